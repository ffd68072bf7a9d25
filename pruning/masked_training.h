// Training a pruned f32 network for a number of epochs with its masks kept: MaskedSgd (plus the
// SSL decorator when group-lasso lambdas are given), StepLR, a fresh optimizer per call. The
// loop under `stuckat prune` (lottery-ticket rounds, SSL, fine-tuning after one-shot).
#pragma once
#include <cstdint>
#include <functional>

#include "framework/data/dataset.h"
#include "framework/nn/module.h"
#include "framework/optim/sgd.h"
#include "framework/train/trainer.h"
#include "pruning/prune_mask.h"
#include "pruning/ssl_optimizer.h"

namespace stuckat {

struct MaskedTrainingOptions {
  int epochs = 1;
  int64_t batch = 64, eval_batch = 1000;
  SgdOptions sgd;
  int step_size = 1;
  float gamma = 0.95f;
  uint64_t seed = 0;        // shuffling
  SslOptions ssl;           // both lambdas 0: no group lasso
  // Epoch checkpoints (prune --resume; either may be null). load_epochs restores the model and the
  // optimizer of a stopped call with these options and returns its finished epochs (0: nothing to
  // resume); the call then goes on from there as the uninterrupted one would. save_epoch runs after
  // each finished epoch.
  std::function<int(Module& model, Optimizer& optimizer)> load_epochs;
  std::function<void(const Module& model, const Optimizer& optimizer, int epochs_done)> save_epoch;
  // Makes a model of the same architecture: when set and batch_split_suits(), each batch is split
  // over the CPU threads (framework/train/thread_replicas.h).
  std::function<std::shared_ptr<Module>()> build_replica;
};

// Called after every optimizer step with the number of steps so far in this call (1, 2, ...; a
// resumed call counts the steps of its loaded epochs too).
using TrainStepHook = std::function<void(int64_t step)>;
// Called after each epoch with (epoch counted from 1, train stats, test stats).
using EpochHook = std::function<void(int epoch, const EpochStats& train, const EpochStats& test)>;

// Returns the test stats after the last epoch (of the untouched model when epochs == 0). Throws
// Error when the loss becomes NaN or inf.
EpochStats train_with_masks(Module& model, const PruneMasks& masks, const MaskedTrainingOptions& options,
                            const DataSplit& data, const TrainStepHook& on_step = nullptr,
                            const EpochHook& on_epoch = nullptr);

}  // namespace stuckat
