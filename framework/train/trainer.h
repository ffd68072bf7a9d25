// The training and evaluation loops shared by the CLI, the benchmarks and (later) sweeps:
// one epoch of shuffled mini-batch SGD, and a no-grad pass over a dataset.
#pragma once
#include <cstdint>
#include <functional>

#include "framework/data/dataset.h"
#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"
#include "framework/optim/sgd.h"  // the usual optimizer, for callers of train_epoch

namespace stuckat {

struct EpochStats {
  double loss = 0;       // mean over images
  double accuracy = 0;   // fraction correct
  int64_t images = 0;
  double seconds = 0;
  bool finite = true;    // false when a batch loss was NaN or inf (the epoch stops there)
  int64_t bad_batch = -1;  // train_epoch: index of that batch (no update was made from it)
  float bad_loss = 0;      // and its loss
};

// Called after each batch with (batch index, number of batches, running mean loss).
using BatchCallback = std::function<void(int64_t, int64_t, double)>;

// Data-parallel training over the ranks of one job (as PyTorch's DistributedDataParallel): every
// rank holds the same model and draws the same order; rank r of R takes images
// [b + c*r/R, b + c*(r+1)/R) of each global batch [b, b + c), and before each step the gradients
// of the slices, each weighted by its share c_r / c, are summed over the ranks, so every rank
// steps with the gradient of the global batch's mean loss (up to the order of float sums). Batch
// norm normalises with each slice's own statistics (as DDP does without SyncBatchNorm).
struct DataParallel {
  int rank = 0, ranks = 1;
  std::function<void(float*, int64_t)> sum;  // element-wise sum over the ranks, in place, on the host
  // `sum` also takes GPU memory (a CUDA-aware MPI): a model on the GPU then sums each gradient
  // where it lies instead of staging it through the host.
  bool sum_takes_device_memory = false;
};

// One epoch over `data` in the order random_permutation(n, seed, epoch); the last batch may be
// smaller (as PyTorch's DataLoader with drop_last=False). With `parallel` (ranks > 1), this rank's
// slices of the batches; the returned loss, accuracy and images are the whole batches'.
// With `replicas`, each batch is split over the CPU threads (thread_replicas.h; not with ranks > 1).
class ThreadReplicas;
EpochStats train_epoch(Module& model, Optimizer& opt, const Dataset& data, int64_t batch, uint64_t seed, int epoch,
                       const BatchCallback& on_batch = nullptr, const DataParallel* parallel = nullptr,
                       ThreadReplicas* replicas = nullptr);

// Loss and accuracy summed over a pass's batches, in order, as evaluate() reports them.
// The clock starts when the tally is made.
struct EvalTally {
  EvalTally();
  double started = 0;
  double loss_sum = 0;
  int64_t correct = 0;
  EpochStats stats;
  void add(const Tensor& logits, const Tensor& labels, int64_t count);  // one batch of `count` images
  EpochStats finish();                                                  // the means, and the seconds since made
};

// The device of the model's parameters (the CPU for a model without any).
Device model_device(const Module& model);

// Mean loss and accuracy over `data` in eval mode, without gradients, in order.
// With `logits`, also the model's outputs (images x classes, in dataset order) on the CPU.
EpochStats evaluate(Module& model, const Dataset& data, int64_t batch, Tensor* logits = nullptr);

}  // namespace stuckat
