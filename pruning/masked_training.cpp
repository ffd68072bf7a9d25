// Epoch loop over MaskedSgd (and SslOptimizer).
#include "pruning/masked_training.h"

#include <algorithm>
#include <memory>

#include "base/error.h"
#include "framework/train/thread_replicas.h"
#include "pruning/masked_sgd.h"

namespace stuckat {

EpochStats train_with_masks(Module& model, const PruneMasks& masks, const MaskedTrainingOptions& o,
                            const DataSplit& data, const TrainStepHook& on_step, const EpochHook& on_epoch) {
  MaskedSgd sgd(model, o.sgd, masks);
  std::unique_ptr<SslOptimizer> ssl;
  Optimizer* opt = &sgd;
  if (o.ssl.lambda_filter > 0 || o.ssl.lambda_channel > 0) {
    ssl = std::make_unique<SslOptimizer>(model, sgd, o.ssl);
    opt = ssl.get();
  }
  StepLR sched(*opt, o.step_size, o.gamma);
  const int start = o.load_epochs ? o.load_epochs(model, *opt) : 0;
  for (int e = 0; e < start; ++e) sched.step();
  const int64_t batch = std::max<int64_t>(1, o.batch);
  int64_t steps = start * ((data.train.size() + batch - 1) / batch);  // as train_epoch's batches
  EpochStats test = start >= o.epochs ? evaluate(model, data.test, o.eval_batch) : EpochStats{};
  std::unique_ptr<ThreadReplicas> replicas;
  if (o.build_replica) replicas = thread_replicas_if_suited(model, batch, o.build_replica);
  for (int epoch = start; epoch < o.epochs; ++epoch) {
    auto after_batch = [&](int64_t, int64_t, double) {
      ++steps;
      if (on_step) on_step(steps);
    };
    const EpochStats tr = train_epoch(model, *opt, data.train, o.batch, o.seed, epoch, after_batch, nullptr, replicas.get());
    if (!tr.finite)
      throw Error(fmt::format("training diverged: the loss became {} in epoch {}, batch {}", tr.bad_loss, epoch + 1,
                              tr.bad_batch + 1));
    sched.step();
    test = evaluate(model, data.test, o.eval_batch);
    if (o.save_epoch) o.save_epoch(model, *opt, epoch + 1);
    if (on_epoch) on_epoch(epoch + 1, tr, test);
  }
  return test;
}

}  // namespace stuckat
