// Squared gradients for deploy's sensitivity weighting: against central finite differences of
// each image's loss, the mean over images of the squared derivative, for weights of every layer
// of a smooth network (conv, average pool, linear: no kinks for the differences to straddle);
// the model's mode and gradients as they were.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "framework/ops.h"
#include "framework/train/sensitivity.h"
#include "framework/nn/layers.h"

using namespace stuckat;

namespace {
// The cross-entropy of image i alone, in eval mode.
double image_loss(Module& model, const Dataset& data, int64_t i) {
  const int64_t pixels = data.images.numel() / data.images.size(0);
  const float* px = data.images.data<float>() + i * pixels;
  Tensor image = Tensor::from_vector(std::vector<float>(px, px + pixels), {1, data.images.size(1), data.images.size(2), data.images.size(3)});
  Tensor label = Tensor::from_vector(std::vector<int32_t>{data.labels.data<int32_t>()[i]}, {1});
  return double(cross_entropy(model.forward(image), label).item());
}
}  // namespace

TEST_CASE("squared gradients: the mean over images of each image's squared derivative (finite differences)", "[train]") {
  auto model = std::make_shared<Sequential>();
  const Init init{4, ""};
  model->add(std::make_shared<Conv2d>(init.child("0"), 1, 4, 3));  // 8x8 -> 6x6
  model->add(std::make_shared<AvgPool2d>(2, 2));                    // -> 3x3
  model->add(std::make_shared<Flatten>());
  model->add(std::make_shared<Linear>(init.child("3"), 36, 10));
  model->train();
  Dataset data;
  const int64_t n = 3;
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> px(size_t(n * 8 * 8));
  for (float& v : px) v = normal(gen);
  data.images = Tensor::from_vector(px, {n, 1, 8, 8});
  data.labels = Tensor::from_vector(std::vector<int32_t>{3, 7, 1}, {n});

  const auto sq = squared_gradients(*model, data, n, 1);
  REQUIRE(model->is_training());  // left as it was
  const NamedTensorList params = model->named_parameters();
  REQUIRE(sq.size() == params.size());
  model->eval();
  int checked = 0;
  for (size_t p = 0; p < params.size(); ++p) {
    REQUIRE(sq[p].first == params[p].first);
    REQUIRE(int64_t(sq[p].second.size()) == params[p].second.numel());
    REQUIRE(!params[p].second.grad().defined());  // dropped
    float* w = params[p].second.data<float>();
    // The two weights with the largest squared gradients in this parameter (where f32 finite
    // differences have the signal to check against).
    size_t top = 0, second = 1;
    for (size_t k = 1; k < sq[p].second.size(); ++k)
      if (sq[p].second[k] > sq[p].second[top]) top = k;
    if (top == second) second = 0;
    for (size_t k = 0; k < sq[p].second.size(); ++k)
      if (k != top && sq[p].second[k] > sq[p].second[second]) second = k;
    for (size_t k : {top, second}) {
      const float saved = w[k];
      const double h = 1e-2;
      double mean_sq = 0;
      for (int64_t i = 0; i < n; ++i) {
        w[k] = float(saved + h);
        const double up = image_loss(*model, data, i);
        w[k] = float(saved - h);
        const double down = image_loss(*model, data, i);
        w[k] = saved;
        const double d = (up - down) / (2 * h);
        mean_sq += d * d / double(n);
      }
      INFO(params[p].first << " [" << k << "] " << sq[p].second[k] << " vs " << mean_sq);
      REQUIRE(std::abs(double(sq[p].second[k]) - mean_sq) <= 0.02 * mean_sq + 1e-7);
      ++checked;
    }
  }
  REQUIRE(checked == int(2 * params.size()));
  // Fewer batches than images: only the first ones count.
  const auto first = squared_gradients(*model, data, 1, 1);
  const auto two = squared_gradients(*model, data, 1, 2);
  REQUIRE(first[0].second != two[0].second);
}
