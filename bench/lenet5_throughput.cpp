// LeNet-5 training and evaluation throughput on Fashion-MNIST with the production trainer.
// Before timing, checks the fast conv2d/linear kernels against the reference on one real
// batch, so a fast-but-wrong kernel cannot produce a number. Prints one JSON object;
// bench/lenet5_cpu.py runs it beside the PyTorch anchor and prints the ratios.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/parallel.h"
#include "framework/train/thread_replicas.h"
#include "framework/train/trainer.h"
#include "kernels/cpu/conv2d.h"
#include "models/model_zoo.h"

using namespace stuckat;

namespace {
bool conv_matches_reference(const Dataset& data, const Module& model) {
  const int64_t n = 8;
  Tensor w = model.named_parameters()[0].second, b = model.named_parameters()[1].second;
  cpu::Conv2dShape s{n, 1, 28, 28, 6, 5, 5, 1, 2};
  const int64_t ny = n * 6 * 28 * 28;
  std::vector<float> fast(ny), ref(ny);
  cpu::conv2d_forward(data.images.data<float>(), w.data<float>(), b.data<float>(), fast.data(), s);
  cpu::conv2d_forward_ref(data.images.data<float>(), w.data<float>(), b.data<float>(), ref.data(), s);
  for (int64_t i = 0; i < ny; ++i)
    if (std::abs(fast[i] - ref[i]) > 1e-4f + 1e-4f * std::abs(ref[i])) return false;
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"LeNet-5 Fashion-MNIST throughput"};
  int threads = 2, epochs = 1;
  int64_t batch = 64, limit = 0;
  SgdOptions sgd{0.1f, 0.0f, 0.0f, 5e-4f, false};
  app.add_option("--threads", threads);
  app.add_option("--epochs", epochs);
  app.add_option("--batch", batch);
  app.add_option("--limit-train", limit);
  app.add_option("--lr", sgd.lr);
  app.add_option("--momentum", sgd.momentum);
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);

  DataOptions opts;
  opts.limit_train = limit;
  DataSplit data = load_data(opts);
  auto model = make_model(parse_model_name("lenet5"), 0);
  if (!conv_matches_reference(data.train, *model)) {
    std::fprintf(stderr, "fast conv2d disagrees with the reference; not timing\n");
    return 1;
  }
  Sgd opt(model->parameters(), sgd);
  // As `stuckat train` runs it: each batch split over the threads.
  std::unique_ptr<ThreadReplicas> replicas;
  if (batch_split_suits(*model, threads, batch))
    replicas = std::make_unique<ThreadReplicas>(*model, threads, [] { return make_model(parse_model_name("lenet5"), 0); });
  StepLR sched(opt, 1, 0.95f);
  double train_seconds = 0;
  int64_t images = 0;
  for (int e = 0; e < epochs; ++e) {
    EpochStats st = train_epoch(*model, opt, data.train, batch, 0, e, nullptr, nullptr, replicas.get());
    train_seconds += st.seconds;
    images += st.images;
    sched.step();
  }
  EpochStats test = evaluate(*model, data.test, 1000);
  nlohmann::json out = {{"impl", "stuckat"},
                        {"threads", threads},
                        {"train_images_per_s", images / train_seconds},
                        {"eval_images_per_s", test.images / test.seconds},
                        {"test_acc", test.accuracy},
                        {"test_loss", test.loss}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
