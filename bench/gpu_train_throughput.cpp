// Training and evaluation images/s of LeNet-5, VGG11 and ResNet-18 on one GPU, on synthetic
// data that lives on the device (the whole "dataset" is one batch reused, so no host transfer is
// timed). Before timing, a first GPU step on 16 images is compared with the same step on the
// CPU (loss within 1e-3 relative), so a fast-but-wrong backend cannot produce a number; the
// [cuda] tests check every op in detail. STUCKAT_CUDA_PROFILE=1 adds a table of where the time
// goes (kernels/cuda/profile.h; the synchronizing timers slow the run, so its figures are not
// throughput). Prints one JSON object per line; bench/gpu/check.sh
// runs it beside bench/gpu/pytorch_train.py and prints the table.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/autograd.h"
#include "base/device.h"
#include "framework/ops.h"
#include "framework/optim/sgd.h"
#include "framework/random.h"
#include "kernels/cuda/profile.h"
#include "models/model_zoo.h"

using namespace stuckat;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Batch {
  Tensor images, labels;  // on the CPU
};

Batch synthetic_batch(const ModelSpec& spec, int64_t n, uint64_t seed) {
  RandomStream rng(seed, 1);
  std::vector<float> x(static_cast<size_t>(n * spec.in_channels * spec.in_size * spec.in_size));
  for (auto& v : x) v = rng.next_uniform(-1.0f, 1.0f);
  std::vector<int32_t> l(static_cast<size_t>(n));
  for (auto& v : l) v = static_cast<int32_t>(rng.next_below(static_cast<uint32_t>(spec.num_classes)));
  return {Tensor::from_vector(x, {n, spec.in_channels, spec.in_size, spec.in_size}), Tensor::from_vector(l, {n})};
}

float train_step(Module& model, Sgd& opt, const Tensor& x, const Tensor& labels) {
  STUCKAT_GPU_PROFILE("train step (all)");
  {
    STUCKAT_GPU_PROFILE("zero_grad");
    opt.zero_grad();
  }
  Tensor loss;
  {
    STUCKAT_GPU_PROFILE("forward (all)");
    loss = cross_entropy(model.forward(x), labels);
  }
  const float l = loss.item();  // the trainer reads the loss every step too (NaN check)
  loss.backward();
  STUCKAT_GPU_PROFILE("optimizer step");
  opt.step();
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GPU training/evaluation throughput (synthetic data)"};
  std::string name = "lenet5";
  int64_t batch = 64;
  double seconds = 3.0;
  bool validate = true;
  app.add_option("--model", name, "lenet5 | vgg11 | resnet18 | ...");
  app.add_option("--batch", batch);
  app.add_option("--seconds", seconds, "time per measurement (after warm-up)");
  app.add_option("--validate", validate, "compare the first step with the CPU first");
  CLI11_PARSE(app, argc, argv);
  if (!cuda_available()) {
    std::fprintf(stderr, "bench_gpu_train: no CUDA device is available (or this build has no CUDA backend)\n");
    return 2;
  }
  const ModelSpec spec = parse_model_name(name);
  const Batch host = synthetic_batch(spec, batch, 7);
  const Tensor x = host.images.to(Device::CUDA), labels = host.labels.to(Device::CUDA);
  const SgdOptions options{0.01f, 0.9f, 0.0f, 5e-4f, false};

  auto model = make_model(spec, 1);
  model->to(Device::CUDA);
  Sgd opt(model->parameters(), options);
  nlohmann::json out{{"framework", "stuckat"}, {"model", name}, {"batch", batch}};

  if (validate) {  // on 16 images, so the CPU side stays short for VGG/ResNet
    const Batch small = synthetic_batch(spec, std::min<int64_t>(batch, 16), 8);
    auto cpu_model = make_model(spec, 1), gpu_model = make_model(spec, 1);
    gpu_model->to(Device::CUDA);
    Sgd cpu_opt(cpu_model->parameters(), options), gpu_opt(gpu_model->parameters(), options);
    const float want = train_step(*cpu_model, cpu_opt, small.images, small.labels);
    const float got =
        train_step(*gpu_model, gpu_opt, small.images.to(Device::CUDA), small.labels.to(Device::CUDA));
    out["validation_loss_cpu"] = want;
    out["validation_loss_gpu"] = got;
    if (!(std::abs(got - want) <= 1e-3f * std::abs(want))) {
      std::fprintf(stderr, "bench_gpu_train: %s first-step loss %g on the GPU vs %g on the CPU\n", name.c_str(), got,
                   want);
      return 1;
    }
  }

  // Training: warm up (the caching allocator and cuBLAS settle), then time whole steps.
  for (int i = 0; i < 5; ++i) train_step(*model, opt, x, labels);
  int64_t steps = 0;
  double t0 = now();
  while (now() - t0 < seconds) {
    train_step(*model, opt, x, labels);
    ++steps;
  }
  double dt = now() - t0;
  out["train_images_per_s"] = static_cast<double>(steps * batch) / dt;
  out["train_steps"] = steps;

  // Evaluation: eval mode, no gradients, loss and accuracy read back per batch as evaluate() does.
  {
    NoGradGuard no_grad;
    model->eval();
    auto eval_step = [&] {
      STUCKAT_GPU_PROFILE("eval step (all)");
      Tensor logits = model->forward(x);
      (void)cross_entropy(logits, labels).item();
      (void)count_correct(logits, labels);
    };
    for (int i = 0; i < 5; ++i) eval_step();
    steps = 0;
    t0 = now();
    while (now() - t0 < seconds) {
      eval_step();
      ++steps;
    }
    dt = now() - t0;
    out["eval_images_per_s"] = static_cast<double>(steps * batch) / dt;
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
