// Mini-batch training and evaluation loops.
#include "framework/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/random.h"

namespace stuckat {
namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
constexpr uint64_t kShuffleStream = 0x5348554646000000ull;  // "SHUFF": keeps shuffles apart from init

// Batches are gathered on the host; a model on the GPU gets them copied over (one explicit to()).
Device model_device(const Module& model) {
  const std::vector<Tensor> params = model.parameters();
  return params.empty() ? Device::CPU : params.front().device();
}
void move_batch(Device device, const Tensor& images, const Tensor& labels, Tensor& images_dev,
                Tensor& labels_dev) {
  if (device == Device::CPU) {
    images_dev = images;
    labels_dev = labels;
  } else {
    images_dev = images.to(device);
    labels_dev = labels.to(device);
  }
}
}  // namespace

EpochStats train_epoch(Module& model, Optimizer& opt, const Dataset& data, int64_t batch, uint64_t seed, int epoch,
                       const BatchCallback& on_batch) {
  STUCKAT_CHECK(batch >= 1, "batch size must be >= 1, got {}", batch);
  model.train();
  EpochStats st;
  const double t0 = now_seconds();
  const int64_t n = data.size();
  std::vector<int64_t> order = random_permutation(n, seed, kShuffleStream + static_cast<uint64_t>(epoch));
  const int64_t batches = (n + batch - 1) / batch;
  Tensor host_images, host_labels, images, labels;
  const Device device = model_device(model);
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t start = b * batch, count = std::min(batch, n - start);
    gather_batch(data, order, start, count, host_images, host_labels);
    move_batch(device, host_images, host_labels, images, labels);
    opt.zero_grad();
    Tensor logits = model.forward(images);
    Tensor loss = cross_entropy(logits, labels);
    const float l = loss.item();
    if (!std::isfinite(l)) {
      st.finite = false;
      st.bad_batch = b;
      st.bad_loss = l;
      break;
    }
    loss.backward();
    opt.step();
    loss_sum += static_cast<double>(l) * static_cast<double>(count);
    correct += count_correct(logits.detach(), labels);
    st.images += count;
    if (on_batch) on_batch(b, batches, loss_sum / static_cast<double>(st.images));
  }
  st.seconds = now_seconds() - t0;
  if (st.images > 0) {
    st.loss = loss_sum / static_cast<double>(st.images);
    st.accuracy = static_cast<double>(correct) / static_cast<double>(st.images);
  }
  return st;
}

EpochStats evaluate(Module& model, const Dataset& data, int64_t batch, Tensor* logits_out) {
  STUCKAT_CHECK(batch >= 1, "batch size must be >= 1, got {}", batch);
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  EpochStats st;
  const double t0 = now_seconds();
  const int64_t n = data.size();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  Tensor host_images, host_labels, images, labels;
  const Device device = model_device(model);
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t count = std::min(batch, n - start);
    gather_batch(data, order, start, count, host_images, host_labels);
    move_batch(device, host_images, host_labels, images, labels);
    Tensor logits = model.forward(images);
    if (logits_out) {
      STUCKAT_CHECK(logits.dim() == 2, "evaluate: the model's output {} is not (images, classes)", shape_str(logits.shape()));
      const Tensor host = logits.to(Device::CPU).contiguous();
      if (!logits_out->defined() || logits_out->size(0) != n || logits_out->size(1) != host.size(1))
        *logits_out = Tensor::empty({n, host.size(1)});
      std::copy(host.data<float>(), host.data<float>() + host.numel(), logits_out->data<float>() + start * host.size(1));
    }
    const float l = cross_entropy(logits, labels).item();
    if (!std::isfinite(l)) st.finite = false;
    loss_sum += static_cast<double>(l) * static_cast<double>(count);
    correct += count_correct(logits, labels);
    st.images += count;
  }
  model.train(was_training);
  st.seconds = now_seconds() - t0;
  if (st.images > 0) {
    st.loss = loss_sum / static_cast<double>(st.images);
    st.accuracy = static_cast<double>(correct) / static_cast<double>(st.images);
  }
  return st;
}

}  // namespace stuckat
