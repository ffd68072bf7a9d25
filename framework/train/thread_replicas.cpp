// Batches split over the CPU threads, one model replica per thread (see thread_replicas.h).
#include "framework/train/thread_replicas.h"

#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <exception>

#include "base/error.h"
#include "framework/ops.h"
#include "framework/train/trainer.h"

namespace stuckat {

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
                                                             int64_t start, int64_t count) {
  share_model_state();  // an optimizer that swapped a tensor's storage is followed
  const int T = threads_;
  std::vector<double> loss(size_t(T), 0.0);
  std::vector<int64_t> correct(size_t(T), 0);
  std::vector<float> bad(size_t(T), 0.0f);
  std::vector<char> finite(size_t(T), 1);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(T));
  // Per parameter: the slices' gradients and weights, and the sum's destination (the model's).
  const size_t P = params_[0].size();
  std::vector<std::vector<const float*>> sources(P);
  std::vector<std::vector<float>> shares(P);
  std::vector<float*> sums(P, nullptr);
  bool all_finite = true;
  std::exception_ptr summing_error;
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
#pragma omp barrier
#pragma omp single
    try {
      for (int u = 0; u < T; ++u) all_finite = all_finite && finite[size_t(u)] && !errors[size_t(u)];
      for (size_t i = 0; all_finite && i < P; ++i) {
        Tensor& mine = params_[0][i];
        for (int u = 0; u < T; ++u) {
          const Tensor& g = params_[size_t(u)][i].grad();
          if (!g.defined()) continue;
          if (!mine.grad().defined()) mine.set_grad(Tensor::zeros(mine.shape()));
          STUCKAT_CHECK(g.is_contiguous() && g.device() == Device::CPU, "a slice's gradient is not a contiguous host tensor");
          const int64_t lo_u = start + count * u / T, hi_u = start + count * (u + 1) / T;
          sources[i].push_back(g.data<float>());
          shares[i].push_back(static_cast<float>(hi_u - lo_u) / static_cast<float>(count));
        }
        if (mine.grad().defined()) sums[i] = mine.grad().data<float>();
      }
    } catch (...) {
      summing_error = std::current_exception();
      all_finite = false;
    }
    // Each thread sums its part of every parameter, in thread order (the same for any run).
    for (size_t i = 0; all_finite && i < P; ++i) {
      if (sums[i] == nullptr) continue;
      const int64_t n = params_[0][i].numel(), a = n * t / T, b = n * (t + 1) / T;
      const std::vector<const float*>& src = sources[i];
      const std::vector<float>& w = shares[i];
      float* dst = sums[i];
      for (int64_t k = a; k < b; ++k) {
        float s = 0.0f;
        for (size_t u = 0; u < src.size(); ++u) s += w[u] * src[u][k];
        dst[k] = s;
      }
    }
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  if (summing_error) std::rethrow_exception(summing_error);
  BatchResult r;
  for (int t = 0; t < T; ++t) {
    r.loss_sum += loss[size_t(t)];
    r.correct += correct[size_t(t)];
    if (!finite[size_t(t)] && r.finite) {
      r.finite = false;
      r.bad_loss = bad[size_t(t)];
    }
  }
  return r;
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

}  // namespace stuckat
