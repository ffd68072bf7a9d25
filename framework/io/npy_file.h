// NumPy .npy output: a float32 array in C order (version 1.0 header), written atomically, so that
// results such as a model's logits can be loaded with numpy.load and compared number by number.
#pragma once
#include <string>

#include "framework/tensor.h"

namespace stuckat {

// Writes the f32 tensor `t` (any shape, any device) to `path` via PATH.tmp; errors name `what`.
void write_npy(const std::string& path, const Tensor& t, const std::string& what);

}  // namespace stuckat
