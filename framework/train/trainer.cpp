// Mini-batch training and evaluation loops.
#include "framework/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "framework/autograd.h"
#include "framework/ops/elementwise_ops.h"
#include "framework/ops.h"
#include "framework/random.h"
#include "framework/train/thread_replicas.h"

namespace stuckat {
namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
constexpr uint64_t kShuffleStream = 0x5348554646000000ull;  // "SHUFF": keeps shuffles apart from init

// Batches are gathered on the host; a model on the GPU gets them copied over (one explicit to()).
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
// Sums the slices' gradients over the ranks (each first weighted by `share`, its slice's part of
// the global batch) together with the batch's loss sum, correct count and the number of ranks
// whose loss was not finite, in one call; a parameter gets a gradient when any rank had one.
// Gradients on a GPU go through host memory.
void sum_over_ranks(Module& model, const DataParallel& dp, float share, double* stats) {
  const std::vector<Tensor> params = model.parameters();
  if (dp.sum_takes_device_memory && !params.empty() && params.front().device() != Device::CPU) {
    // GPU memory straight to MPI: first which parameters have a gradient anywhere and the stats
    // (a few floats through the host), then each gradient, weighted, summed in place on the GPU.
    std::vector<float> small(params.size() + 3, 0.0f);
    for (size_t i = 0; i < params.size(); ++i) small[i] = params[i].grad().defined() ? 1.0f : 0.0f;
    for (int k = 0; k < 3; ++k) small[params.size() + size_t(k)] = static_cast<float>(stats[k]);
    dp.sum(small.data(), static_cast<int64_t>(small.size()));
    for (size_t i = 0; i < params.size(); ++i) {
      if (small[i] == 0) continue;
      const Tensor& p = params[i];
      const Tensor weight = Tensor::full({1}, share, p.device());
      Tensor g = p.grad().defined() ? binary(p.grad(), weight, BinaryOp::Mul).contiguous() : Tensor::zeros(p.shape(), DType::F32, p.device());
      dp.sum(g.data<float>(), g.numel());
      Tensor(p).set_grad(g);
    }
    for (int k = 0; k < 3; ++k) stats[k] = small[params.size() + size_t(k)];
    return;
  }
  int64_t total = 0;
  for (const Tensor& p : params) total += p.numel() + 1;
  std::vector<float> buffer(static_cast<size_t>(total + 3), 0.0f);
  int64_t at = 0;
  for (const Tensor& p : params) {
    const Tensor& g = p.grad();
    if (g.defined()) {
      const Tensor host = g.to(Device::CPU).contiguous();
      const float* src = host.data<float>();
      for (int64_t i = 0; i < p.numel(); ++i) buffer[size_t(at + i)] = src[i] * share;
      buffer[size_t(at + p.numel())] = 1.0f;  // this rank has a gradient for p
    }
    at += p.numel() + 1;
  }
  // Counts travel as floats: exact up to 2^24, far above any batch's images.
  for (int k = 0; k < 3; ++k) buffer[size_t(total + k)] = static_cast<float>(stats[k]);
  dp.sum(buffer.data(), static_cast<int64_t>(buffer.size()));
  at = 0;
  for (const Tensor& p : params) {
    if (buffer[size_t(at + p.numel())] > 0) {
      Tensor host = Tensor::empty(p.shape());
      std::copy(buffer.begin() + at, buffer.begin() + at + p.numel(), host.data<float>());
      Tensor(p).set_grad(p.device() == Device::CPU ? host : host.to(p.device()));
    }
    at += p.numel() + 1;
  }
  for (int k = 0; k < 3; ++k) stats[k] = buffer[size_t(total + k)];
}

}  // namespace

Device model_device(const Module& model) {
  const std::vector<Tensor> params = model.parameters();
  return params.empty() ? Device::CPU : params.front().device();
}

EpochStats train_epoch(Module& model, Optimizer& opt, const Dataset& data, int64_t batch, uint64_t seed, int epoch,
                       const BatchCallback& on_batch, const DataParallel* parallel, ThreadReplicas* replicas) {
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
  const bool split = parallel != nullptr && parallel->ranks > 1;
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t start = b * batch, count = std::min(batch, n - start);
    if (split) {
      // This rank's slice; a slice may be empty when the last batch has fewer images than ranks.
      const int64_t r = parallel->rank, R = parallel->ranks;
      const int64_t lo = start + count * r / R, hi = start + count * (r + 1) / R;
      opt.zero_grad();
      double stats[3] = {0, 0, 0};  // loss sum, correct, ranks with a non-finite loss
      float l = 0;
      if (hi > lo) {
        gather_batch(data, order, lo, hi - lo, host_images, host_labels);
        move_batch(device, host_images, host_labels, images, labels);
        Tensor logits = model.forward(images);
        Tensor loss = cross_entropy(logits, labels);
        l = loss.item();
        if (std::isfinite(l)) {
          loss.backward();
          stats[0] = static_cast<double>(l) * static_cast<double>(hi - lo);
          stats[1] = static_cast<double>(count_correct(logits.detach(), labels));
        } else {
          stats[2] = 1;
        }
      }
      sum_over_ranks(model, *parallel, static_cast<float>(hi - lo) / static_cast<float>(count), stats);
      if (stats[2] > 0) {  // every rank stops at the same batch
        st.finite = false;
        st.bad_batch = b;
        st.bad_loss = std::isfinite(l) ? std::numeric_limits<float>::quiet_NaN() : l;
        break;
      }
      opt.step();
      loss_sum += stats[0];
      correct += static_cast<int64_t>(stats[1]);
      st.images += count;
      if (on_batch) on_batch(b, batches, loss_sum / static_cast<double>(st.images));
      continue;
    }
    if (replicas != nullptr) {
      opt.zero_grad();
      const ThreadReplicas::BatchResult r = replicas->forward_backward(data, order, start, count, [&opt] { opt.step(); });
      if (!r.finite) {
        st.finite = false;
        st.bad_batch = b;
        st.bad_loss = r.bad_loss;
        break;
      }
      loss_sum += r.loss_sum;
      correct += r.correct;
      st.images += count;
      if (on_batch) on_batch(b, batches, loss_sum / static_cast<double>(st.images));
      continue;
    }
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
  EvalTally tally;
  const int64_t n = data.size();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  Tensor host_images, host_labels, images, labels;
  const Device device = model_device(model);
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
    tally.add(logits, labels, count);
  }
  model.train(was_training);
  return tally.finish();
}

EvalTally::EvalTally() : started(now_seconds()) {}

void EvalTally::add(const Tensor& logits, const Tensor& labels, int64_t count) {
  const float l = cross_entropy(logits, labels).item();
  if (!std::isfinite(l)) stats.finite = false;
  loss_sum += static_cast<double>(l) * static_cast<double>(count);
  correct += count_correct(logits, labels);
  stats.images += count;
}

EpochStats EvalTally::finish() {
  stats.seconds = now_seconds() - started;
  if (stats.images > 0) {
    stats.loss = loss_sum / static_cast<double>(stats.images);
    stats.accuracy = static_cast<double>(correct) / static_cast<double>(stats.images);
  }
  return stats;
}

}  // namespace stuckat
