// Evaluation from the first changed stage (framework/train/staged_evaluation.h).
#include "framework/train/staged_evaluation.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "framework/autograd.h"

namespace stuckat {

namespace {
// Batch `start` of the test set, in order, on the model's device.
void test_batch(const Dataset& data, const std::vector<int64_t>& order, int64_t start, int64_t count, Device device,
                Tensor& images, Tensor& labels) {
  gather_batch(data, order, start, count, images, labels);
  if (device != Device::CPU && images.device() != device) {
    images = images.to(device);
    labels = labels.to(device);
  }
}
}  // namespace

StagedEvaluation::StagedEvaluation(Module& model, const Dataset& data, int64_t batch, int64_t cache_bytes)
    : model_(model), data_(data), batch_(batch) {
  STUCKAT_CHECK(batch >= 1, "batch size must be >= 1, got {}", batch);
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  stages_ = model.forward_stages();
  const int64_t n = data.size();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  const Device device = model_device(model);
  const int64_t batches = (n + batch - 1) / batch;
  int64_t used = 0;
  Tensor images, labels;
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t start = b * batch, count = std::min(batch, n - start);
    test_batch(data, order, start, count, device, images, labels);
    Tensor x = images;
    for (size_t s = 0; s < stages_.size(); ++s) {
      if (s >= 1) {
        if (b == 0 && s == cached_) {  // the first batch decides which stages' inputs fit
          const int64_t bytes = x.numel() * int64_t(sizeof(float)) * batches;
          if (used + bytes <= cache_bytes) {
            used += bytes;
            cached_ = s + 1;
            inputs_.emplace_back();
          }
        }
        if (s >= cached_) break;  // nothing deeper is kept
        inputs_[s - 1].push_back(x);
      }
      x = stages_[s].run(x);
    }
  }
  model.train(was_training);
}

size_t StagedEvaluation::first_stage(const std::vector<std::string>& changed) const {
  size_t first = stages_.size();
  for (size_t s = 0; s < stages_.size() && first == stages_.size(); ++s)
    for (const std::string& layer : stages_[s].layers)
      if (std::find(changed.begin(), changed.end(), layer) != changed.end()) first = s;
  // Start where the input is kept: a stage with no changed layer reruns on the same input.
  return first < cached_ ? first : cached_ - 1;
}

EpochStats StagedEvaluation::evaluate(const std::vector<std::string>& changed) {
  NoGradGuard no_grad;
  const bool was_training = model_.is_training();
  model_.eval();
  const size_t from = first_stage(changed);
  EvalTally tally;
  const int64_t n = data_.size();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  const Device device = model_device(model_);
  Tensor images, labels;
  for (int64_t start = 0, b = 0; start < n; start += batch_, ++b) {
    const int64_t count = std::min(batch_, n - start);
    test_batch(data_, order, start, count, device, images, labels);
    Tensor x = from == 0 ? images : inputs_[from - 1][size_t(b)];
    for (size_t s = from; s < stages_.size(); ++s) x = stages_[s].run(x);
    tally.add(x, labels, count);
  }
  model_.train(was_training);
  return tally.finish();
}

}  // namespace stuckat
