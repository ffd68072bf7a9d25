// A test tensor of values drawn uniformly from [lo, hi) by `rng`, in element order (the draws a
// test makes, so its inputs are the same on every run).
#pragma once
#include <vector>

#include "framework/random.h"
#include "framework/tensor.h"

inline stuckat::Tensor random_tensor(const stuckat::Shape& shape, stuckat::RandomStream& rng, float lo = -1.0f,
                                     float hi = 1.0f) {
  std::vector<float> v(static_cast<size_t>(stuckat::shape_numel(shape)));
  for (auto& e : v) e = rng.next_uniform(lo, hi);
  return stuckat::Tensor::from_vector(v, shape);
}
