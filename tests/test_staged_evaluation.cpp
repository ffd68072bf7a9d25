// Evaluation from the first changed stage against evaluate() of the whole network: LeNet-5 and
// VGG11 with batch norm, weights changed in a late layer, an early layer, none; a cache too
// small for any stage; loss and accuracy bit for bit, batches of uneven size included.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "framework/train/staged_evaluation.h"
#include "framework/train/trainer.h"
#include "models/model_zoo.h"

using namespace stuckat;

namespace {
Dataset random_images(int64_t n, int64_t c, int64_t hw, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> px(size_t(n * c * hw * hw));
  for (float& v : px) v = normal(gen);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (auto& l : labels) l = int32_t(gen() % 10);
  Dataset d;
  d.images = Tensor::from_vector(px, {n, c, hw, hw});
  d.labels = Tensor::from_vector(labels, {n});
  return d;
}

// Adds noise to the weight of `layer`.
void perturb(Module& model, const std::string& layer, float scale, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  for (const auto& [name, t] : model.named_parameters())
    if (name == layer + ".weight") {
      float* w = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) w[i] += normal(gen);
    }
}

void require_same(const EpochStats& a, const EpochStats& b) {
  REQUIRE(a.images == b.images);
  REQUIRE(a.loss == b.loss);  // bit for bit
  REQUIRE(a.accuracy == b.accuracy);
}
}  // namespace

TEST_CASE("staged evaluation equals evaluate() from whichever stage it starts", "[train]") {
  struct Case {
    std::string model;
    int64_t channels, size, images, batch;
    std::string late, early;
  };
  for (const Case& c : {Case{"lenet5", 1, 28, 300, 64, "fc1", "conv1"}, Case{"vgg11_bn", 3, 32, 20, 8, "classifier.0", "features.0"}}) {
    auto model = make_model(parse_model_name(c.model), 3);
    const Dataset data = random_images(c.images, c.channels, c.size, 5);
    StagedEvaluation staged(*model, data, c.batch, int64_t(1) << 30);
    REQUIRE(staged.stages() > 2);
    REQUIRE(staged.cached_stages() == staged.stages());  // all fit in 1 GiB
    require_same(staged.evaluate({}), evaluate(*model, data, c.batch));

    perturb(*model, c.late, 0.05f, 1);
    REQUIRE(staged.first_stage({c.late}) > 1);
    require_same(staged.evaluate({c.late}), evaluate(*model, data, c.batch));

    perturb(*model, c.early, 0.05f, 2);
    REQUIRE(staged.first_stage({c.late, c.early}) == 0);
    require_same(staged.evaluate({c.late, c.early}), evaluate(*model, data, c.batch));

    // No room for any stage's input: every evaluation runs from the images.
    StagedEvaluation uncached(*model, data, c.batch, 0);
    REQUIRE(uncached.cached_stages() == 1);
    REQUIRE(uncached.first_stage({c.late}) == 0);
    require_same(uncached.evaluate({c.late}), evaluate(*model, data, c.batch));
  }
}
