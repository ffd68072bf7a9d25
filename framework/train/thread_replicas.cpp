// Batches split over the CPU threads, one model replica per thread (see thread_replicas.h).
#include "framework/train/thread_replicas.h"

#include <omp.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <exception>

#include "base/error.h"
#include "framework/ops.h"
#include "framework/parallel.h"
#include "framework/train/trainer.h"

namespace stuckat {

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// The calling thread's OpenMP loops run on it alone while one of these lives.
class OneOpenMpThread {
 public:
  OneOpenMpThread() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneOpenMpThread() { omp_set_num_threads(saved_); }
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;

 private:
  int saved_;
};

// How long thread 0 waits for the other slices' flags before it sleeps at the region's end:
// when both threads run, the slices end within tens of microseconds of each other; longer means
// the OS took a thread away, and spinning then takes time from the machine's other work.
int64_t spin_nanoseconds() {
  const char* v = std::getenv("STUCKAT_SPLIT_SPIN_US");  // A/B measurements
  const long us = v != nullptr ? std::strtol(v, nullptr, 10) : 50;
  return std::max<long>(0, us) * 1000;
}

}  // namespace

ThreadReplicas::ThreadReplicas(Module& model, int threads, const std::function<std::shared_ptr<Module>()>& build)
    : model_(model), threads_(threads) {
  STUCKAT_CHECK(threads >= 1, "thread count must be >= 1, got {}", threads);
  STUCKAT_CHECK(model_device(model) == Device::CPU, "splitting batches over threads needs a model on the CPU");
  replicas_.resize(static_cast<size_t>(threads));
  params_.resize(static_cast<size_t>(threads));
  images_.resize(static_cast<size_t>(threads));
  labels_.resize(static_cast<size_t>(threads));
  params_[0] = model.parameters();
  for (int t = 1; t < threads; ++t) {
    replicas_[size_t(t)] = build();
    STUCKAT_CHECK(replicas_[size_t(t)]->named_state().size() == model.named_state().size(),
                  "a model replica has {} tensors, the model {}", replicas_[size_t(t)]->named_state().size(),
                  model.named_state().size());
    params_[size_t(t)] = replicas_[size_t(t)]->parameters();
  }
  share_model_state();
  spin_ns_ = spin_nanoseconds();
}

void ThreadReplicas::share_model_state() {
  const NamedTensorList state = model_.named_state();
  for (int t = 1; t < threads_; ++t) {
    Module& replica = *replicas_[size_t(t)];
    replica.train(model_.is_training());
    const NamedTensorList mine = replica.named_state();
    for (size_t i = 0; i < state.size(); ++i) {
      const TensorImpl* from = state[i].second.impl();
      TensorImpl* to = mine[i].second.impl();
      STUCKAT_CHECK(to != from, "a model replica shares the model's tensor {} (its gradient too)", state[i].first);
      STUCKAT_CHECK(mine[i].first == state[i].first && to->shape == from->shape,
                    "a model replica's tensor {} does not match the model's {}", mine[i].first, state[i].first);
      if (to->storage == from->storage && to->offset == from->offset) continue;
      to->storage = from->storage;  // a handle on the model's data: the layers' copies follow
      to->offset = from->offset;
      to->strides = from->strides;
      to->dtype = from->dtype;
    }
  }
}

ThreadReplicas::BatchResult ThreadReplicas::forward_backward(const Dataset& data, const std::vector<int64_t>& order,
                                                             int64_t start, int64_t count,
                                                             const std::function<void()>& then) {
  share_model_state();  // an optimizer that swapped a tensor's storage is followed
  const int T = threads_;
  std::vector<double> loss(size_t(T), 0.0);
  std::vector<int64_t> correct(size_t(T), 0);
  std::vector<float> bad(size_t(T), 0.0f);
  std::vector<char> finite(size_t(T), 1);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(T));
  std::vector<std::atomic<int>> finished(static_cast<size_t>(T));
  for (auto& f : finished) f.store(0);
  // One parallel region per batch and no barrier inside it: with passive waits a thread that
  // sleeps in a barrier takes tens of microseconds to wake on a virtual machine. Thread 0, done
  // with its slice, waits for the others' flags for a bounded time before it meets them at the
  // region's end (where it would sleep if they have not arrived); then it sums and steps alone.
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    const int64_t lo = start + count * t / T, hi = start + count * (t + 1) / T;
    try {
      for (Tensor& p : params_[size_t(t)]) p.set_grad(Tensor());
      if (hi > lo) {
        gather_batch(data, order, lo, hi - lo, images_[size_t(t)], labels_[size_t(t)]);
        Module& m = t == 0 ? model_ : *replicas_[size_t(t)];
        Tensor logits = m.forward(images_[size_t(t)]);
        Tensor l = cross_entropy(logits, labels_[size_t(t)]);
        const float v = l.item();
        if (std::isfinite(v)) {
          l.backward();
          loss[size_t(t)] = static_cast<double>(v) * static_cast<double>(hi - lo);
          correct[size_t(t)] = count_correct(logits.detach(), labels_[size_t(t)]);
        } else {
          finite[size_t(t)] = 0;
          bad[size_t(t)] = v;
        }
      }
    } catch (...) {
      errors[size_t(t)] = std::current_exception();
    }
    finished[size_t(t)].store(1, std::memory_order_release);
    if (t == 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin_ns_);
      for (int u = 1; u < T; ++u)
        while (finished[size_t(u)].load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until)
          cpu_relax();
    }
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  BatchResult r;
  for (int t = 0; t < T; ++t) {
    r.loss_sum += loss[size_t(t)];
    r.correct += correct[size_t(t)];
    if (!finite[size_t(t)] && r.finite) {
      r.finite = false;
      r.bad_loss = bad[size_t(t)];
    }
  }
  if (r.finite) {
    OneOpenMpThread alone;  // a small model's sum and step: less than a wake-up
    sum_gradients(start, count);
    if (then) then();
  }
  return r;
}

void ThreadReplicas::sum_gradients(int64_t start, int64_t count) {
  const int T = threads_;
  std::vector<const float*> sources;
  std::vector<float> shares;
  for (size_t i = 0; i < params_[0].size(); ++i) {
    Tensor& mine = params_[0][i];
    sources.clear();
    shares.clear();
    for (int u = 0; u < T; ++u) {
      const Tensor& g = params_[size_t(u)][i].grad();
      if (!g.defined()) continue;
      STUCKAT_CHECK(g.is_contiguous() && g.device() == Device::CPU, "a slice's gradient is not a contiguous host tensor");
      const int64_t lo = start + count * u / T, hi = start + count * (u + 1) / T;
      sources.push_back(g.data<float>());
      shares.push_back(static_cast<float>(hi - lo) / static_cast<float>(count));
    }
    if (sources.empty()) continue;
    // Thread 0's gradient, when it has one, becomes the sum in place (the first pass reads each
    // element before writing it); else a fresh one.
    if (!mine.grad().defined()) mine.set_grad(Tensor::zeros(mine.shape()));
    float* dst = mine.grad().data<float>();
    const int64_t n = mine.numel();
    // Slice by slice in thread order (the same sums for any run); each pass is one vector loop.
    const float* first = sources[0];
    const float w0 = shares[0];
    for (int64_t k = 0; k < n; ++k) dst[k] = w0 * first[k];
    for (size_t u = 1; u < sources.size(); ++u) {
      const float* src = sources[u];
      const float w = shares[u];
      for (int64_t k = 0; k < n; ++k) dst[k] += w * src[k];
    }
  }
}

bool batch_split_suits(const Module& model, int threads, int64_t batch) {
  const char* forced = std::getenv("STUCKAT_BATCH_SPLIT");  // "0": never (A/B measurements)
  if (forced != nullptr && std::string(forced) == "0") return false;
  // Large models keep one team per operation: plain VGG11 (9.6M parameters) trained at 81 images/s
  // split and 128 not, at batch 64 on 2 threads, while LeNet-5 (61k) gains.
  constexpr int64_t kMaxSplitParameters = 1000000;
  return threads >= 2 && batch >= 8 * static_cast<int64_t>(threads) && model_device(model) == Device::CPU &&
         !model.normalises_over_batch() && model.parameter_count() <= kMaxSplitParameters;
}

std::unique_ptr<ThreadReplicas> thread_replicas_if_suited(Module& model, int64_t batch,
                                                          const std::function<std::shared_ptr<Module>()>& build) {
  if (!batch_split_suits(model, num_threads(), batch)) return nullptr;
  return std::make_unique<ThreadReplicas>(model, num_threads(), build);
}

}  // namespace stuckat
