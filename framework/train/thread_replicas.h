// Training on several CPU threads by splitting each batch: thread t runs the forward and backward
// pass of its slice of the batch on a replica of the model (the kernels inside single-threaded),
// then thread 0 sums the slices' gradients, each weighted by its share of the batch, into the
// model's own and runs the optimizer step. A step is one parallel region without a barrier
// (thread 0 waits for the others' flags for up to 50 us, STUCKAT_SPLIT_SPIN_US, before it meets
// them at the region's end), where the same step per operation opens ~17 (LeNet-5). With the
// passive waits `stuckat` runs with, each region or barrier a thread sleeps in costs a wake-up,
// 20-70 us on the virtual machines we measure on, against operations of tens of microseconds:
// LeNet-5 at batch 64 on 2 threads trained at 25k images/s per operation and 48-52k split (Intel
// Xeon VM, 2026-12-08), and keeps the same speed as unsplit next to a busy process.
//
// The replicas share the model's parameter and buffer storage (an optimizer that writes the
// weights in place is seen by all of them) and keep gradients of their own. Only for models that
// do not normalise over the batch: there a slice's gradient, weighted by its share, is exactly its
// part of the batch's gradient, up to the order of float sums.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/nn/module.h"

namespace stuckat {

class ThreadReplicas {
 public:
  // `build` makes a model of the same architecture (its weights are then replaced by handles on
  // `model`'s). `model` must outlive this object and stay on the CPU.
  ThreadReplicas(Module& model, int threads, const std::function<std::shared_ptr<Module>()>& build);
  int threads() const { return threads_; }

  struct BatchResult {
    double loss_sum = 0;  // the slices' mean losses weighted by their images
    int64_t correct = 0;
    bool finite = true;   // false when a slice's loss was NaN or inf (gradients are then not summed)
    float bad_loss = 0;   // that loss
  };
  // Forward and backward of the images order[start .. start + count) of `data`, split over the
  // threads; the model's parameters then hold the gradient of the batch's mean loss (gradients
  // from before are dropped). `then` (an optimizer step, say) runs after the sum on the calling
  // thread, its OpenMP loops on that thread alone, and not when a slice's loss was not finite.
  BatchResult forward_backward(const Dataset& data, const std::vector<int64_t>& order, int64_t start, int64_t count,
                               const std::function<void()>& then = nullptr);

 private:
  Module& model_;
  int threads_;
  std::vector<std::shared_ptr<Module>> replicas_;  // [0] is empty: thread 0 runs the model itself
  std::vector<std::vector<Tensor>> params_;        // per thread, in the model's parameter order
  std::vector<Tensor> images_, labels_;            // per thread: its slice, gathered
  int64_t spin_ns_ = 0;                            // thread 0's wait for the others before it sleeps
  void share_model_state();                        // points the replicas at the model's storage
  void sum_gradients(int64_t start, int64_t count);  // the slices' gradients, by share, into the model's
};

// Whether train_epoch should split batches of `batch` images over `threads` threads for `model`:
// a model on the CPU of at most a million parameters that does not normalise over the batch, at
// least two threads, and at least eight images per thread. STUCKAT_BATCH_SPLIT=0 in the
// environment turns it off (for A/B runs).
bool batch_split_suits(const Module& model, int threads, int64_t batch);

// Replicas over num_threads() threads when batch_split_suits() says so, else null (train_epoch
// then runs each operation on all threads).
std::unique_ptr<ThreadReplicas> thread_replicas_if_suited(Module& model, int64_t batch,
                                                          const std::function<std::shared_ptr<Module>()>& build);

}  // namespace stuckat
