// End-to-end training behaviour: the optimiser's arithmetic, loss going down on learnable
// synthetic data, and bit-exact repetition of seeded runs.
#include <catch2/catch.hpp>

#include "gpu_available.h"
#include <algorithm>
#include <cmath>
#include <cstring>

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/parallel.h"
#include "framework/random.h"
#include "framework/train/trainer.h"
#include "models/model_zoo.h"

using namespace stuckat;

namespace {
DataSplit small_synthetic(uint64_t seed) {
  DataOptions o;
  o.name = "synthetic";
  o.synthetic_train = 512;
  o.synthetic_test = 256;
  o.seed = seed;
  return load_data(o);
}

std::vector<float> all_parameters(const Module& m) {
  std::vector<float> out;
  for (auto& kv : m.named_parameters()) {
    auto v = kv.second.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}
}  // namespace

TEST_CASE("SGD with momentum, weight decay and StepLR follows torch.optim.SGD", "[optim]") {
  // One parameter p = 1, constant gradient 0.5, lr 0.1, momentum 0.9, dampening 0, wd 0.1.
  // Step 1: g = 0.5 + 0.1*1 = 0.6, buf = 0.6, p = 1 - 0.06 = 0.94.
  // Step 2: g = 0.5 + 0.094 = 0.594, buf = 0.9*0.6 + 0.594 = 1.134, p = 0.94 - 0.1134 = 0.8266.
  Tensor p = Tensor::from_vector(std::vector<float>{1.0f}, {1});
  p.set_requires_grad(true);
  Sgd opt({p}, SgdOptions{0.1f, 0.9f, 0.0f, 0.1f, false});
  StepLR sched(opt, 2, 0.5f);
  for (int step = 0; step < 2; ++step) {
    opt.zero_grad();
    p.set_grad(Tensor::from_vector(std::vector<float>{0.5f}, {1}));
    opt.step();
    sched.step();
  }
  REQUIRE(p.to_vector()[0] == Approx(0.8266).epsilon(1e-6));
  REQUIRE(opt.lr() == Approx(0.05));  // decayed once after 2 epochs with step_size 2
  sched.step();
  REQUIRE(opt.lr() == Approx(0.05));
  sched.step();
  REQUIRE(opt.lr() == Approx(0.025));
  // A parameter without a gradient is left alone.
  Tensor q = Tensor::from_vector(std::vector<float>{2.0f}, {1});
  q.set_requires_grad(true);
  Sgd opt2({q}, SgdOptions{0.1f, 0.0f, 0.0f, 0.0f, false});
  opt2.step();
  REQUIRE(q.to_vector()[0] == 2.0f);
}

TEST_CASE("LeNet-5 lowers its loss on learnable synthetic data", "[training]") {
  set_num_threads(2);
  DataSplit data = small_synthetic(3);
  auto model = make_model(parse_model_name("lenet5"), 1);
  EpochStats before = evaluate(*model, data.test, 256);
  Sgd opt(model->parameters(), SgdOptions{0.05f, 0.9f, 0.0f, 5e-4f, false});
  for (int e = 0; e < 3; ++e) REQUIRE(train_epoch(*model, opt, data.train, 32, 1, e).finite);
  EpochStats after = evaluate(*model, data.test, 256);
  INFO("loss " << before.loss << " -> " << after.loss << ", accuracy " << after.accuracy);
  REQUIRE(after.loss < 0.5 * before.loss);
  REQUIRE(after.accuracy > 0.5);  // 10 classes: chance is 0.1
}

TEST_CASE("LeNet-5 with batch norm trains and evaluates with running statistics", "[training]") {
  set_num_threads(2);
  DataSplit data = small_synthetic(4);
  auto model = make_model(parse_model_name("lenet5_bn"), 2);
  Sgd opt(model->parameters(), SgdOptions{0.05f, 0.0f, 0.0f, 0.0f, false});
  EpochStats before = evaluate(*model, data.test, 256);
  for (int e = 0; e < 2; ++e) train_epoch(*model, opt, data.train, 32, 2, e);
  EpochStats after = evaluate(*model, data.test, 256);
  REQUIRE(after.loss < before.loss);
  // Running statistics moved away from their initial (0, 1).
  bool moved = false;
  for (auto& kv : model->named_buffers())
    if (kv.first == "bn1.running_mean")
      for (float v : kv.second.to_vector()) moved = moved || v != 0.0f;
  REQUIRE(moved);
}

TEST_CASE("seeded training repeats bit for bit", "[training]") {
  set_num_threads(2);
  DataSplit data = small_synthetic(5);
  auto run = [&](uint64_t seed) {
    auto model = make_model(parse_model_name("lenet5"), seed);
    Sgd opt(model->parameters(), SgdOptions{0.1f, 0.9f, 0.0f, 5e-4f, true});
    train_epoch(*model, opt, data.train, 64, seed, 0);
    return all_parameters(*model);
  };
  std::vector<float> a = run(7), b = run(7), c = run(8);
  REQUIRE(a.size() == b.size());
  REQUIRE(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  REQUIRE(a != c);
}

TEST_CASE("a dataset kept on the GPU gives the host's batches and the same training epoch", "[training][cuda]") {
  if (!have_gpu("gather_batch and train_epoch from a GPU-resident dataset")) return;
  DataSplit host = small_synthetic(3);
  Dataset device = host.train;
  device.to_device(Device::CUDA);
  // Batches: the gather kernel copies exactly what the host gather copies.
  const std::vector<int64_t> order = random_permutation(host.train.size(), 4, 0);
  Tensor hi, hl, di, dl;
  for (int64_t start : {int64_t(0), int64_t(100), int64_t(448)}) {
    const int64_t count = std::min<int64_t>(64, host.train.size() - start);
    gather_batch(host.train, order, start, count, hi, hl);
    gather_batch(device, order, start, count, di, dl);
    REQUIRE(di.device() == Device::CUDA);
    CHECK(di.to(Device::CPU).to_vector() == hi.to_vector());
    const Tensor dl_host = dl.to(Device::CPU);
    CHECK(std::memcmp(dl_host.raw_data(), hl.raw_data(), hl.nbytes()) == 0);
  }
  // An epoch of a GPU model: the same batches in the same order, so bit-identical results.
  auto run = [&](const Dataset& data) {
    auto model = make_model(parse_model_name("lenet5"), 9);
    model->to(Device::CUDA);
    Sgd opt(model->parameters(), SgdOptions{0.05f, 0.9f, 0.0f, 5e-4f, false});
    const EpochStats st = train_epoch(*model, opt, data, 64, 9, 0);
    std::vector<float> w;
    for (auto& kv : model->named_parameters()) {
      auto v = kv.second.to(Device::CPU).to_vector();
      w.insert(w.end(), v.begin(), v.end());
    }
    w.push_back(static_cast<float>(st.loss));
    w.push_back(static_cast<float>(st.accuracy));
    return w;
  };
  const std::vector<float> a = run(host.train), b = run(device);
  REQUIRE(a.size() == b.size());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}
