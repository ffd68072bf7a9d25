// Training on several CPU threads by splitting each batch: thread t runs the forward and backward
// pass of its slice of the batch on a replica of the model (the kernels inside single-threaded),
// then the slices' gradients, each weighted by its share of the batch, are summed into the model's
// own. A step then meets the other threads twice instead of at every operation. Small networks
// (LeNet-5 at batch 64, where one operation lasts tens of microseconds) run faster for it, and a
// thread that the OS deschedules for another process delays the step at two points, not at each
// of its dozens of operations.
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
  // from before are dropped; nothing is stepped).
  BatchResult forward_backward(const Dataset& data, const std::vector<int64_t>& order, int64_t start, int64_t count);

 private:
  Module& model_;
  int threads_;
  std::vector<std::shared_ptr<Module>> replicas_;  // [0] is empty: thread 0 runs the model itself
  std::vector<std::vector<Tensor>> params_;        // per thread, in the model's parameter order
  std::vector<Tensor> images_, labels_;            // per thread: its slice, gathered
  void share_model_state();                        // points the replicas at the model's storage
};

// Whether train_epoch should split batches of `batch` images over `threads` threads for `model`:
// a model on the CPU of at most a million parameters that does not normalise over the batch, at
// least two threads, and at least eight images per thread. STUCKAT_BATCH_SPLIT=0 in the environment turns it off (for A/B runs).
bool batch_split_suits(const Module& model, int threads, int64_t batch);

}  // namespace stuckat
