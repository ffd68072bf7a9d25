// `stuckat train`: builds a model, trains it with SGD + StepLR, evaluates after each epoch, and
// writes DIR/checkpoint.safetensors, DIR/metrics.jsonl and DIR/train_state.safetensors (the
// optimizer state that --resume continues from). Every file is written to a temporary name
// and renamed, so an interrupted run never leaves a half-written result.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/data_flags.h"
#include "cli/run_files.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "framework/optim/sgd.h"
#include "framework/train/trainer.h"
#include "models/model_zoo.h"

namespace stuckat::cli {
namespace {

struct TrainFlags {
  DataFlags common;
  std::string model = "lenet5";
  int epochs = 1;
  int64_t batch = 64;
  int64_t eval_batch = 1000;
  SgdOptions sgd{0.1f, 0.0f, 0.0f, 5e-4f, false};
  int step_size = 1;
  float gamma = 0.95f;
  uint64_t seed = 0;
  std::string out = "runs/train";
  bool resume = false;
};

// The settings that must match for --resume to continue a run (epochs may grow).
nlohmann::json run_config(const TrainFlags& f, const Dataset& train) {
  return {{"model", f.model},       {"data", train.name},           {"batch", f.batch},
          {"lr", f.sgd.lr},         {"momentum", f.sgd.momentum},   {"dampening", f.sgd.dampening},
          {"nesterov", f.sgd.nesterov}, {"weight_decay", f.sgd.weight_decay}, {"step_size", f.step_size},
          {"gamma", f.gamma},       {"seed", f.seed},               {"train_images", train.size()}};
}

int run(TrainFlags& f) {
  Device device = apply_runtime_flags(f.common);
  if (f.epochs < 0) throw_input_error("--epochs must be >= 0, got {}", f.epochs);
  if (f.batch < 1) throw_input_error("--batch must be >= 1, got {}", f.batch);
  if (f.step_size < 1) throw_input_error("--step-size must be >= 1, got {}", f.step_size);
  if (f.sgd.nesterov && (f.sgd.momentum <= 0 || f.sgd.dampening != 0))
    throw_input_error("--nesterov needs --momentum > 0 and --dampening 0");
  ModelSpec spec = parse_model_name(f.model);
  f.model = spec.name();
  f.common.data.seed = f.seed;
  DataSplit data = load_data(f.common.data);
  const Tensor& im = data.train.images;
  check_model_input(spec, im.size(1), im.size(2), im.size(3), data.train.name);

  std::shared_ptr<Module> model = make_model(spec, f.seed);
  model->to(device);
  Sgd opt(model->parameters(), f.sgd);
  StepLR sched(opt, f.step_size, f.gamma);
  nlohmann::json config = run_config(f, data.train);

  RunFiles files(f.out);
  std::vector<std::string> metrics;
  int start_epoch = 0;
  if (f.resume && files.has_state()) {
    start_epoch = files.load_state(*model, opt, config, metrics);
    for (int e = 0; e < start_epoch; ++e) sched.step();
    std::fprintf(stderr, "resuming %s after epoch %d\n", f.out.c_str(), start_epoch);
  }

  const bool tty = isatty(fileno(stderr));
  std::fprintf(stderr, "training %s on %s: %lld train / %lld test images, %lld parameters, %d threads\n",
               f.model.c_str(), data.train.name.c_str(), static_cast<long long>(data.train.size()),
               static_cast<long long>(data.test.size()), static_cast<long long>(model->parameter_count()),
               f.common.threads);
  EpochStats test{};
  for (int epoch = start_epoch; epoch < f.epochs; ++epoch) {
    const float lr = opt.lr();
    auto progress = [&](int64_t b, int64_t nb, double loss) {
      if (tty && (b % 20 == 0 || b + 1 == nb))
        std::fprintf(stderr, "\repoch %d/%d  batch %lld/%lld  loss %.4f ", epoch + 1, f.epochs,
                     static_cast<long long>(b + 1), static_cast<long long>(nb), loss);
    };
    EpochStats tr = train_epoch(*model, opt, data.train, f.batch, f.seed, epoch, progress);
    if (tty) std::fprintf(stderr, "\r\033[K");
    if (!tr.finite)
      throw_input_error("training diverged: the loss became NaN or infinite in epoch {}; try a smaller --lr",
                        epoch + 1);
    sched.step();
    test = evaluate(*model, data.test, f.eval_batch);
    const double ips = tr.seconds > 0 ? static_cast<double>(tr.images) / tr.seconds : 0.0;
    nlohmann::json row = {{"epoch", epoch + 1},          {"train_loss", tr.loss},  {"train_acc", tr.accuracy},
                          {"test_loss", test.loss},      {"test_acc", test.accuracy}, {"lr", lr},
                          {"train_images_per_s", ips},   {"train_seconds", tr.seconds},
                          {"eval_images_per_s", test.seconds > 0 ? test.images / test.seconds : 0.0}};
    metrics.push_back(row.dump());
    files.save(*model, opt, config, epoch + 1, metrics);
    std::fprintf(stderr, "epoch %d/%d  train_loss %.4f  train_acc %.4f  test_loss %.4f  test_acc %.4f  lr %.5g  %.0f img/s\n",
                 epoch + 1, f.epochs, tr.loss, tr.accuracy, test.loss, test.accuracy, lr, ips);
  }
  if (start_epoch >= f.epochs) test = evaluate(*model, data.test, f.eval_batch);
  nlohmann::json summary = {{"model", f.model}, {"data", data.test.name}, {"epochs", f.epochs},
                            {"test_acc", test.accuracy}, {"test_loss", test.loss},
                            {"checkpoint", files.checkpoint_path()}};
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace

Runner add_train_command(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model and write a checkpoint and per-epoch metrics");
  cmd->add_option("--model", f->model, "lenet5[_bn] | vgg11[_bn] | vgg16[_bn] | vgg19[_bn] | resnet18")
      ->capture_default_str();
  add_data_flags(*cmd, f->common);
  cmd->add_option("--epochs", f->epochs, "epochs to train")->capture_default_str();
  cmd->add_option("--batch", f->batch, "mini-batch size")->capture_default_str();
  cmd->add_option("--eval-batch", f->eval_batch, "batch size for evaluation")->capture_default_str();
  cmd->add_option("--lr", f->sgd.lr, "learning rate")->capture_default_str();
  cmd->add_option("--momentum", f->sgd.momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--dampening", f->sgd.dampening, "SGD dampening")->capture_default_str();
  cmd->add_flag("--nesterov", f->sgd.nesterov, "Nesterov momentum");
  cmd->add_option("--weight-decay", f->sgd.weight_decay, "L2 weight decay")->capture_default_str();
  cmd->add_option("--step-size", f->step_size, "StepLR: epochs between decays")->capture_default_str();
  cmd->add_option("--gamma", f->gamma, "StepLR: decay factor")->capture_default_str();
  cmd->add_option("--seed", f->seed, "seed for initialisation and shuffling")->capture_default_str();
  cmd->add_option("--out", f->out, "output directory")->capture_default_str();
  cmd->add_flag("--resume", f->resume, "continue from the last finished epoch in --out");
  return [f] { return run(*f); };
}

}  // namespace stuckat::cli
