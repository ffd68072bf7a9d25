// Fault sweeps: grid order and flag parsing, shards that partition the grid exactly, a CSV that
// survives a kill (partial last line) and resumes to the same bytes as an uninterrupted run,
// staged forward == forward, and each swept point == the plain reference (inject the faults into
// the whole model, evaluate()).
#include <catch2/catch.hpp>

#include "gpu_available.h"
#include "random_tensor.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "faults/fault_spec.h"
#include "faults/run_ahead.h"
#include "faults/block_scores.h"
#include "faults/channel_delta.h"
#include "faults/faulty_model.h"
#include "faults/sweep_csv.h"
#include "faults/sweep_delta.h"
#include "faults/sweep_grid.h"
#include "faults/sweep_point.h"
#include "faults/weight_changes_op.h"
#include "faults/weight_changes_thread.h"
#include "faults/weight_codec.h"
#include "faults/sweep_runner.h"
#include "faults/sweep_summary.h"
#include "faults/sweep_warm_up.h"
#include "faults/weight_format.h"
#include "framework/autograd.h"
#include "framework/error.h"
#include "framework/ops.h"
#include "framework/parallel.h"
#include "framework/parallel.h"
#include "framework/random.h"
#include "framework/train/trainer.h"
#include "models/model_zoo.h"

using namespace stuckat;

namespace {

SweepGrid small_grid() {
  SweepGrid g;
  g.formats = {"q4.11", "fp16"};
  g.layers = {"conv1", "conv2", "fc1", "fc3"};
  g.bits = {4, 14, 15};
  g.stuck = {0, 1};
  g.rates = {0.05, 0.3};
  g.seeds = {0, 7};
  return g;
}

// Random images in [-1, 1) and labels: the sweep only has to agree with the reference on them.
Dataset random_test_set(int64_t n) {
  Dataset d;
  d.name = "random";
  d.images = Tensor::empty({n, 1, 28, 28});
  d.labels = Tensor::empty({n}, DType::I32);
  float* im = d.images.data<float>();
  for (int64_t i = 0; i < d.images.numel(); ++i) {
    uint32_t w[4];
    philox_words(11, 0, static_cast<uint64_t>(i), w);
    im[i] = static_cast<float>(w[0] >> 8) / float(1 << 23) - 1.0f;
  }
  for (int64_t i = 0; i < n; ++i) d.labels.data<int32_t>()[i] = static_cast<int32_t>(i % 10);
  return d;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("stuckat_test_sweep_" + name)).string();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<int64_t> all_points(const SweepGrid& g) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < g.size(); ++i) v.push_back(i);
  return v;
}

// Runs `points` into a CSV at `path` (resuming when asked) and returns the rows written.
void run_into(const std::string& path, bool resume, const std::vector<int64_t>& points, Module& model,
              const Dataset& data, const SweepGrid& grid, int64_t batch = 16, int64_t configs = 3) {
  SweepCsvWriter w(path, resume);
  SweepRunOptions o;
  o.batch = batch;
  o.configs_per_pass = configs;
  run_sweep(model, "lenet5", data, grid, points, o, [&](const SweepRow& r) { w.append(r); });
}

}  // namespace

TEST_CASE("sweep grid enumerates formats, a baseline each, then layer/bit/stuck/rate/seed", "[faults][sweep]") {
  SweepGrid g = small_grid();
  REQUIRE(g.points_per_format() == 1 + 4 * 3 * 2 * 2 * 2);
  REQUIRE(g.size() == 2 * g.points_per_format());
  SweepPoint p0 = sweep_point(g, 0);
  CHECK((p0.baseline && p0.format == "q4.11"));
  SweepPoint p1 = sweep_point(g, 1), p2 = sweep_point(g, 2), p3 = sweep_point(g, 3);
  CHECK((p1.layer == "conv1" && p1.bit == 4 && p1.stuck == 0 && p1.rate == 0.05 && p1.seed == 0));
  CHECK((p2.seed == 7 && p2.rate == 0.05));  // seed varies fastest
  CHECK((p3.seed == 0 && p3.rate == 0.3));
  SweepPoint last = sweep_point(g, g.size() - 1);
  CHECK((last.format == "fp16" && last.layer == "fc3" && last.bit == 15 && last.stuck == 1 && last.rate == 0.3 &&
         last.seed == 7));
  CHECK(sweep_point(g, g.points_per_format()).baseline);
  // Every (format, layer, bit, stuck, rate, seed) appears exactly once.
  std::set<std::string> seen;
  for (int64_t i = 0; i < g.size(); ++i) {
    SweepPoint p = sweep_point(g, i);
    seen.insert(p.format + "/" + p.layer + "/" + std::to_string(p.bit) + "/" + std::to_string(p.stuck) + "/" +
                std::to_string(p.rate) + "/" + std::to_string(p.seed) + (p.baseline ? "b" : ""));
  }
  CHECK(static_cast<int64_t>(seen.size()) == g.size());
}

TEST_CASE("sweep list flags parse ranges and reject bad values", "[faults][sweep]") {
  CHECK(parse_int_list("0-3,7", "--bits", 0, 15) == std::vector<int64_t>{0, 1, 2, 3, 7});
  CHECK(parse_int_list("15", "--bits", 0, 15) == std::vector<int64_t>{15});
  CHECK_THROWS_AS(parse_int_list("16", "--bits", 0, 15), InputError);
  CHECK_THROWS_AS(parse_int_list("3-1", "--bits", 0, 15), InputError);
  CHECK_THROWS_AS(parse_int_list("1,1", "--bits", 0, 15), InputError);
  CHECK_THROWS_AS(parse_int_list("a", "--bits", 0, 15), InputError);
  CHECK(parse_rate_list("0.01,0.05", "--rates") == std::vector<double>{0.01, 0.05});
  CHECK_THROWS_AS(parse_rate_list("0", "--rates"), InputError);
  CHECK_THROWS_AS(parse_rate_list("1.5", "--rates"), InputError);
  const std::vector<std::string> valid{"conv1", "conv2", "fc1"};
  CHECK(parse_layer_list("all", valid) == valid);
  CHECK(parse_layer_list("fc1,conv1", valid) == std::vector<std::string>{"conv1", "fc1"});
  CHECK_THROWS_AS(parse_layer_list("fc9", valid), InputError);
  SweepShard s = parse_sweep_shard("2/5");
  CHECK((s.index == 2 && s.count == 5));
  CHECK_THROWS_AS(parse_sweep_shard("5/5"), InputError);
  CHECK_THROWS_AS(parse_sweep_shard("1"), InputError);
}

TEST_CASE("shards partition the grid: union = all points, no duplicates", "[faults][sweep]") {
  const SweepGrid g = small_grid();
  for (int64_t n : {1, 2, 3, 7, 200}) {
    std::vector<int> owners(static_cast<size_t>(g.size()), 0);
    for (int64_t i = 0; i < n; ++i) {
      SweepShard s{i, n};
      for (int64_t p = 0; p < g.size(); ++p) owners[static_cast<size_t>(p)] += s.owns(p) ? 1 : 0;
    }
    CHECK(std::all_of(owners.begin(), owners.end(), [](int c) { return c == 1; }));
  }
}

// A model whose batch-norm statistics and affine parameters are set to varied values (not the
// 0/1 defaults), so that a channel paired with the wrong statistics shows.
std::shared_ptr<Module> sweep_test_model(const std::string& name, uint64_t seed) {
  std::shared_ptr<Module> m = make_model(parse_model_name(name), seed);
  uint64_t k = 0;
  auto fill = [&](Tensor& t, float lo, float hi) {
    for (int64_t i = 0; i < t.numel(); ++i) {
      uint32_t w[4];
      philox_words(seed, 99, k++, w);
      t.data<float>()[i] = lo + (hi - lo) * static_cast<float>(w[0] >> 8) / float(1 << 24);
    }
  };
  std::vector<std::string> bn_prefixes;  // "bn1.", "features.1.": the modules with running statistics
  const std::string mean_suffix = "running_mean";
  for (auto& [bname, t] : m->named_buffers()) {
    if (bname.size() > mean_suffix.size() && bname.compare(bname.size() - mean_suffix.size(), mean_suffix.size(), mean_suffix) == 0) {
      bn_prefixes.push_back(bname.substr(0, bname.size() - mean_suffix.size()));
      fill(t, -0.3f, 0.3f);
    } else if (bname.find("running_var") != std::string::npos) {
      fill(t, 0.5f, 2.0f);
    }
  }
  for (auto& [pname, t] : m->named_parameters())
    for (const std::string& prefix : bn_prefixes) {
      if (pname == prefix + "weight") fill(t, 0.5f, 1.5f);
      if (pname == prefix + "bias") fill(t, -0.2f, 0.2f);
    }
  return m;
}

// Random images in [-1, 1) of shape (n, c, hw, hw).
Tensor random_images(int64_t n, int64_t c, int64_t hw, uint64_t stream) {
  Tensor x = Tensor::empty({n, c, hw, hw});
  for (int64_t i = 0; i < x.numel(); ++i) {
    uint32_t w[4];
    philox_words(13, stream, static_cast<uint64_t>(i), w);
    x.data<float>()[i] = static_cast<float>(w[0] >> 8) / float(1 << 23) - 1.0f;
  }
  return x;
}

// Six random 32x32x3 images labelled 0..5: small enough for ResNet-18 on the CPU.
Dataset resnet_test_set() {
  Dataset d;
  d.name = "random";
  d.images = random_images(6, 3, 32, 7);
  d.labels = Tensor::empty({6}, DType::I32);
  for (int64_t i = 0; i < 6; ++i) d.labels.data<int32_t>()[i] = static_cast<int32_t>(i);
  return d;
}

TEST_CASE("staged forward equals forward, and the stages name every faultable layer once", "[faults][sweep][models]") {
  NoGradGuard no_grad;
  for (const char* name : {"lenet5", "lenet5_bn", "vgg11", "vgg11_bn", "resnet18"}) {
    INFO(name);
    std::shared_ptr<Module> m = sweep_test_model(name, 3);
    m->eval();
    const bool small = std::string(name).rfind("lenet5", 0) == 0;
    const Tensor x = small ? random_images(8, 1, 28, 1) : random_images(2, 3, 32, 2);
    Tensor ref = m->forward(x);
    Tensor h = x;
    std::vector<std::string> all;
    for (const ForwardStage& s : m->forward_stages()) {
      h = s.run(h);
      all.insert(all.end(), s.layers.begin(), s.layers.end());
    }
    REQUIRE(h.shape() == ref.shape());
    CHECK(h.to_vector() == ref.to_vector());  // the same ops in the same order: bit-identical
    CHECK(all == faultable_layer_names(*m));
  }
}

TEST_CASE("a stage's after_channels equals its after on those channels", "[faults][sweep][models]") {
  // For every stage that offers it: run the layer, then `after` on all channels and
  // after_channels on a scattered subset (not ascending, so order mix-ups show); the subset's
  // values must be those channels' blocks of the full result, bit for bit.
  NoGradGuard no_grad;
  int64_t checked = 0;
  for (const char* name : {"lenet5_bn", "vgg11_bn"}) {
    INFO(name);
    std::shared_ptr<Module> m = sweep_test_model(name, 4);
    m->eval();
    const bool small = std::string(name) == "lenet5_bn";
    Tensor h = small ? random_images(3, 1, 28, 3) : random_images(2, 3, 32, 4);
    for (const ForwardStage& s : m->forward_stages()) {
      if (s.layer && s.after_channels) {
        const Tensor y = s.layer->forward(h);
        const int64_t channels = y.size(1);
        std::vector<int64_t> pick = {channels - 1, 0};
        if (channels > 4) pick.push_back(channels / 2);
        const Tensor full = s.after(y).contiguous();
        const Tensor part = s.after_channels(select_index(y, 1, pick), pick).contiguous();
        const int64_t n = y.size(0), block = full.numel() / (n * channels), k = static_cast<int64_t>(pick.size());
        REQUIRE(part.numel() == n * k * block);
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < k; ++j)
            for (int64_t e = 0; e < block; ++e)
              REQUIRE(part.data<float>()[(i * k + j) * block + e] ==
                      full.data<float>()[(i * channels + pick[static_cast<size_t>(j)]) * block + e]);
        ++checked;
      }
      h = s.run(h);
    }
  }
  // LeNet-5 with batch norm: conv1, conv2 (pool, flatten after), fc1, fc2 (batch norm 1-d), fc3
  // (nothing after). VGG11: 8 convs, classifier.0 and .2 (ReLU after), classifier.4.
  CHECK(checked == 5 + 11);
}

// Each row against the plain reference: a fresh model with the point's faults injected into all
// of it, evaluated with evaluate() in batches of 16.
void check_rows_against_reference(const std::vector<SweepRow>& rows, const std::string& name, uint64_t seed,
                                  const Dataset& d) {
  const double n = static_cast<double>(d.size());
  for (const SweepRow& row : rows) {
    const SweepPoint& p = row.point;
    std::shared_ptr<Module> ref_model = sweep_test_model(name, seed);
    std::vector<FaultSpec> specs;
    if (!p.baseline) {
      FaultSpec s;
      s.layer = p.layer, s.bit = p.bit, s.sa1_fraction = p.stuck, s.rate = p.rate, s.seed = p.seed;
      specs.push_back(s);
    }
    FaultInjection inject(*ref_model, parse_weight_format(p.format), specs, true);
    int64_t faulty = 0;
    for (const LayerFaultStats& st : inject.apply()) faulty += st.faulty;
    EpochStats ref = evaluate(*ref_model, d, 16);
    INFO("point " << p.index << " " << p.format << " " << p.layer);
    CHECK(row.faulty_weights == faulty);
    CHECK(row.nan == !ref.finite);
    if (!ref.finite) continue;
    // The runner adds the changed weights' contribution to the clean layer output instead of
    // recomputing the layer, so logits differ from the reference by float rounding (~1e-6
    // relative): the mean loss agrees to 1e-5 and at most one prediction may flip on a near-tie.
    CHECK(std::abs(row.test_acc - ref.accuracy) <= 1.0 / n + 1e-12);
    CHECK(row.test_loss == Approx(ref.loss).epsilon(1e-5));
  }
}

TEST_CASE("each sweep row equals the reference: faults injected into the model, then evaluate()", "[faults][sweep]") {
  // Rates from 0.002 (a few weights: the runner recomputes only the changed channels and
  // pushes their difference through the next layer) to 0.3 (most channels: the whole output).
  // Activation caps (per test batch on the CPU): everything kept; only the three deepest stages
  // (fc1, fc2, fc3: 52 KB at 16 images; the points of conv1 and conv2 then run from the images);
  // nothing but the images.
  const std::string name = GENERATE(as<std::string>{}, "lenet5", "lenet5_bn");
  const int64_t cap = GENERATE(int64_t(2) << 30, int64_t(60000), int64_t(0));
  const Dataset d = random_test_set(40);
  std::shared_ptr<Module> model = sweep_test_model(name, 5);
  const std::vector<float> before = model->named_parameters()[0].second.to_vector();
  SweepGrid g = small_grid();
  g.layers = {"conv1", "conv2", "fc1", "fc2", "fc3"};
  g.bits = {14};
  g.rates = {0.002, 0.05, 0.3};
  g.seeds = {3};
  std::vector<SweepRow> rows;
  SweepRunOptions o;
  o.batch = 16;  // 40 images: batches of 16, 16, 8
  o.configs_per_pass = 3;
  o.prefix_cache_bytes = cap;
  run_sweep(*model, name, d, g, all_points(g), o, [&](const SweepRow& r) { rows.push_back(r); });
  REQUIRE(static_cast<int64_t>(rows.size()) == g.size());
  CHECK(model->named_parameters()[0].second.to_vector() == before);  // the runner restores the weights
  check_rows_against_reference(rows, name, 5, d);
  // A fault at rate 0.3 on bit 14 of fc1 changes some weights.
  auto it = std::find_if(rows.begin(), rows.end(), [](const SweepRow& r) {
    return r.point.layer == "fc1" && r.point.rate == 0.3 && r.point.format == "q4.11";
  });
  REQUIRE(it != rows.end());
  CHECK(it->faulty_weights > 0);
}

TEST_CASE("CPU sweep rows do not depend on how the points are split into waves", "[faults][sweep]") {
  // Waves of one point, of 5 points (cutting through layers and formats), ended by the plan-byte
  // limit after every point, of the 8 points a tiny time budget leaves, and all points in one
  // wave: the same rows, bit for bit, in order.
  const Dataset d = random_test_set(40);
  std::shared_ptr<Module> model = sweep_test_model("lenet5", 5);
  SweepGrid g = small_grid();
  g.layers = {"conv1", "conv2", "fc1", "fc3"};
  g.bits = {11, 15};
  g.rates = {0.05, 0.3};
  g.seeds = {3};
  auto rows_with = [&](int64_t wave, int64_t plan_bytes, double seconds = 60) {
    std::vector<SweepRow> rows;
    SweepRunOptions o;
    o.batch = 16;
    o.wave_points = wave;
    o.chunk_bytes = plan_bytes;
    o.wave_seconds = seconds;
    run_sweep(*model, "lenet5", d, g, all_points(g), o, [&](const SweepRow& r) { rows.push_back(r); });
    return rows;
  };
  const std::vector<SweepRow> all = rows_with(1 << 20, int64_t(1) << 30);
  REQUIRE(static_cast<int64_t>(all.size()) == g.size());
  struct Split {
    int64_t wave, bytes;
    double seconds;
  };
  for (const auto& [wave, bytes, seconds] :
       std::vector<Split>{{1, 1 << 30, 60}, {5, 1 << 30, 60}, {1 << 20, 1, 60}, {1 << 20, 1 << 30, 1e-12}}) {
    const std::vector<SweepRow> rows = rows_with(wave, bytes, seconds);
    REQUIRE(rows.size() == all.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      INFO("wave " << wave << ", plan bytes " << bytes << ", row " << i);
      CHECK(rows[i].point.layer == all[i].point.layer);
      CHECK(rows[i].point.format == all[i].point.format);
      CHECK(rows[i].faulty_weights == all[i].faulty_weights);
      CHECK(std::memcmp(&rows[i].test_loss, &all[i].test_loss, sizeof(double)) == 0);
      CHECK(rows[i].test_acc == all[i].test_acc);
    }
  }
  check_rows_against_reference(all, "lenet5", 5, d);
}

TEST_CASE("a sweep of the deep layers only keeps no activations before them, rows still the reference", "[faults][sweep]") {
  // Points on conv2, fc1 and fc3 only: the clean pass keeps nothing of conv1's stage; the rows
  // must still equal faults injected into the model and evaluate().
  const std::string name = GENERATE(as<std::string>{}, "lenet5", "lenet5_bn");
  const Dataset d = random_test_set(40);
  std::shared_ptr<Module> model = sweep_test_model(name, 5);
  SweepGrid g = small_grid();
  g.layers = {"conv2", "fc1", "fc3"};
  g.bits = {14};
  g.rates = {0.05, 0.3};
  g.seeds = {3};
  std::vector<SweepRow> rows;
  SweepRunOptions o;
  o.batch = 16;
  o.configs_per_pass = 3;
  run_sweep(*model, name, d, g, all_points(g), o, [&](const SweepRow& r) { rows.push_back(r); });
  REQUIRE(static_cast<int64_t>(rows.size()) == g.size());
  check_rows_against_reference(rows, name, 5, d);
}

TEST_CASE("ResNet-18 sweep rows equal the reference (block stages, stem and fc layer stages)", "[faults][sweep]") {
  // Points in the stem (a layer stage: delta path), inside residual blocks (stages that list
  // several layers and run whole: the faulted weights are swapped in) and in fc.
  const Dataset d = resnet_test_set();
  std::shared_ptr<Module> model = sweep_test_model("resnet18", 6);
  SweepGrid g;
  g.formats = {"q4.11"};
  g.layers = {"conv1", "layer2.0.conv2", "layer2.0.shortcut.0", "layer4.1.conv1", "fc"};
  g.bits = {13};
  g.stuck = {1};
  g.rates = {0.05};
  g.seeds = {1};
  std::vector<SweepRow> rows;
  SweepRunOptions o;
  o.batch = 4;
  run_sweep(*model, "resnet18", d, g, all_points(g), o, [&](const SweepRow& r) { rows.push_back(r); });
  REQUIRE(static_cast<int64_t>(rows.size()) == g.size());
  check_rows_against_reference(rows, "resnet18", 6, d);
}

TEST_CASE("conv2d_multi and linear_multi stack the per-weight outputs; slice_rows is a view", "[faults][sweep]") {
  RandomStream rng(21, 21);
  auto random = [&](const Shape& shape) { return random_tensor(shape, rng); };
  const Tensor x = random({3, 2, 9, 7}), w = random({4, 5, 2, 3, 3}), b = random({5});
  const Tensor y = conv2d_multi(x, w, b, 2, 1);
  REQUIRE(y.shape() == Shape{12, 5, 5, 4});
  const Tensor xl = random({6, 10}), wl = random({3, 4, 10}), bl = random({4});
  const Tensor yl = linear_multi(xl, wl, Tensor());
  REQUIRE(yl.shape() == Shape{18, 4});
  for (int64_t p = 0; p < 4; ++p) {
    const Tensor wp = slice_rows(w, p, p + 1).view({5, 2, 3, 3});
    CHECK(slice_rows(y, 3 * p, 3 * p + 3).to_vector() == conv2d(x, wp, b, 2, 1).to_vector());
  }
  for (int64_t p = 0; p < 3; ++p)
    CHECK(slice_rows(yl, 6 * p, 6 * p + 6).to_vector() == linear(xl, slice_rows(wl, p, p + 1).view({4, 10}), Tensor()).to_vector());
  // A view: same storage, offset rows; writing through it changes the source.
  Tensor rows = slice_rows(yl, 6, 8);
  CHECK(rows.shape() == Shape{2, 4});
  CHECK(rows.storage() == yl.storage());
  rows.data<float>()[0] = 123.0f;
  CHECK(yl.data<float>()[6 * 4] == 123.0f);
  CHECK(slice_rows(yl, 18, 18).numel() == 0);
  CHECK_THROWS_AS(slice_rows(yl, 5, 19), Error);
  CHECK_THROWS_AS(slice_rows(yl, 4, 3), Error);
  CHECK_THROWS_AS(conv2d_multi(x, random({4, 5, 3, 3, 3}), b, 1, 0), Error);  // channel mismatch
}

TEST_CASE("block_scores equals cross_entropy and count_correct per block", "[faults][sweep]") {
  RandomStream rng(31, 31);
  const int64_t blocks = 4, n = 37, k = 10;
  Tensor logits = Tensor::empty({blocks * n, k}), labels = Tensor::empty({n}, DType::I32);
  for (int64_t i = 0; i < logits.numel(); ++i) logits.data<float>()[i] = rng.next_uniform(-4.0f, 4.0f);
  for (int64_t r = 0; r < n; ++r) labels.data<int32_t>()[r] = static_cast<int32_t>(r % k);
  for (int64_t j = 0; j < k; ++j) logits.data<float>()[3 * k + j] = 1.0f;  // a full tie: the first maximum (0) wins
  logits.data<float>()[(2 * n + 5) * k + 4] = INFINITY;                   // block 2: a non-finite loss
  const std::vector<BlockScore> got = block_scores(logits, labels, blocks);
  REQUIRE(got.size() == static_cast<size_t>(blocks));
  for (int64_t p = 0; p < blocks; ++p) {
    CAPTURE(p);
    const Tensor rows = slice_rows(logits, p * n, (p + 1) * n);
    CHECK(got[static_cast<size_t>(p)].correct == count_correct(rows, labels));
    const double want = static_cast<double>(cross_entropy(rows, labels).item()) * static_cast<double>(n);
    if (p == 2) {
      CHECK(!std::isfinite(got[2].loss_sum));
      CHECK(!std::isfinite(want));
    } else {
      CHECK(got[static_cast<size_t>(p)].loss_sum == Approx(want).epsilon(1e-5));  // float sums in another order
    }
  }
  CHECK_THROWS_AS(block_scores(logits, labels, 3), Error);
}

namespace {
bool same_change_lists(const std::vector<WeightChange>& a, const std::vector<WeightChange>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].index != b[i].index || std::memcmp(&a[i].delta, &b[i].delta, sizeof(float)) != 0) return false;
  return true;
}
}  // namespace

TEST_CASE("fault_layer equals FaultInjection on the layer, bit for bit", "[faults][sweep]") {
  // The sweep's copy path builds each point's weights from the layer's words (fault_layer); the
  // CPU path and training go through FaultInjection. Same weights, same counts, for every
  // format, a fixed and a random bit, SA0/SA1/mixed, and target=nonzero on a partly pruned layer.
  std::shared_ptr<Module> model = make_model(parse_model_name("lenet5"), 4);
  Tensor weight;
  for (auto& [name, t] : model->named_parameters())
    if (name == "fc1.weight") weight = t;
  for (int64_t i = 0; i < weight.numel(); i += 3) weight.data<float>()[i] = 0.0f;  // pruned
  weight.data<float>()[5] = 40.0f;                                                  // saturates Q4.11
  const Tensor original = weight.clone();
  for (const char* format_name : {"q4.11", "q1.14", "maxabs", "signmag", "fp16"})
    for (const char* spec_text : {"layer=fc1,bit=14,stuck=1,rate=0.3,seed=2", "layer=fc1,bit=3,stuck=0,rate=0.05,seed=9",
                                  "layer=fc1,bit=random,stuck=mix:1:1,rate=0.2,seed=4,target=nonzero"}) {
      CAPTURE(format_name, spec_text);
      const WeightFormat format = parse_weight_format(format_name);
      const FaultSpec spec = parse_fault_spec(spec_text);
      std::memcpy(weight.data<float>(), original.data<float>(), weight.nbytes());
      FaultInjection inject(*model, format, {spec});
      const LayerFaultStats stats = inject.apply().at(0);
      const Tensor want = weight.clone();
      inject.restore();

      const int64_t n = original.numel();
      const WeightFormat resolved = resolve_layer_format(format, original.data<float>(), n);
      Tensor words = Tensor::empty({n}, DType::I16);
      encode_weights(original.data<float>(), static_cast<uint16_t*>(words.raw_data()), n, resolved);
      Tensor got = Tensor::empty({n});
      const PointFaultCounts counts = fault_layer(make_fault_draw(spec, "fc1"), words, original.view({n}), resolved, got);
      CHECK(counts.faulty == stats.faulty);
      CHECK(counts.changed == stats.changed);
      CHECK(stats.changed > 0);
      CHECK(std::memcmp(got.data<float>(), want.data<float>(), want.nbytes()) == 0);

      // The changed-weight bits and the changes rebuilt from them (what a GPU pass reads back)
      // equal the changes found by comparing all weights.
      Tensor quantized = original.clone();
      {
        FaultInjection clean_words(*model, format, {}, true);
        std::memcpy(weight.data<float>(), original.data<float>(), weight.nbytes());
        clean_words.apply();
        std::memcpy(quantized.data<float>(), weight.data<float>(), weight.nbytes());
        std::memcpy(weight.data<float>(), original.data<float>(), weight.nbytes());
      }
      const Tensor bits = Tensor::empty({(n + 31) / 32}, DType::I32), counts2 = Tensor::empty({2}, DType::I64);
      Tensor again = Tensor::empty({n});
      fault_layer_into(make_fault_draw(spec, "fc1"), words, original.view({n}), resolved, again, counts2, bits);
      CHECK(std::memcmp(again.data<float>(), want.data<float>(), want.nbytes()) == 0);
      int64_t set = 0;
      for (int64_t b = 0; b < bits.numel(); ++b) set += __builtin_popcount(static_cast<const uint32_t*>(bits.raw_data())[b]);
      CHECK(set == stats.changed);
      const std::vector<WeightChange> rebuilt =
          changed_weights(make_fault_draw(spec, "fc1"), static_cast<const uint32_t*>(bits.raw_data()), words,
                          original.view({n}), quantized.view({n}), resolved);
      CHECK(same_change_lists(rebuilt, weight_changes(quantized.data<float>(), want.data<float>(), n)));
    }
}

TEST_CASE("a sweep through a model copy (the --device path, here on the CPU) equals the reference", "[faults][sweep]") {
  // The path `sweep --device cuda` takes, with the copy on the CPU: faulted weights drawn and
  // decoded from the layer's words (fault_layer), points of a split stage stacked along the batch
  // (3 or 10 per pass; a 1-byte pass budget forces one; variant 0 in chunks of 3 points), points
  // that changed few channels on the channel path (variant 3: through the fused ReLU / max-pool
  // pass the GPU takes), ResNet block stages one point at a time. Rows must equal the reference and carry the CPU path's fault counts.
  const std::string name = GENERATE(as<std::string>{}, "lenet5", "lenet5_bn", "resnet18");
  const int variant = GENERATE(0, 1, 2, 3);  // 3 per pass; 10 per pass; a budget that forces one; 3 per pass, fused
  const bool resnet = name == "resnet18";
  if (resnet && variant > 0) return;  // ResNet-18 on the CPU is slow: one variant
  const int64_t configs = variant == 1 ? 10 : 3;
  const int64_t pass_bytes = variant == 2 ? 1 : int64_t(4) << 30;
  CAPTURE(name, configs, pass_bytes);
  const Dataset d = resnet ? resnet_test_set() : random_test_set(40);
  std::shared_ptr<Module> model = sweep_test_model(name, 5), copy = sweep_test_model(name, 5);
  SweepGrid g = small_grid();
  g.layers = resnet ? std::vector<std::string>{"conv1", "layer2.0.conv2", "fc"}
                    : std::vector<std::string>{"conv1", "conv2", "fc1", "fc3"};
  g.bits = resnet ? std::vector<int>{14} : std::vector<int>{3, 14};
  g.rates = resnet ? std::vector<double>{0.05} : std::vector<double>{0.002, 0.05, 0.3};
  g.seeds = {3};
  if (resnet) g.formats = {"q4.11"};
  SweepRunOptions o;
  o.batch = resnet ? 4 : 16;
  o.configs_per_pass = configs;
  std::vector<SweepRow> plain, via_copy;
  // rows_done (where the CLI flushes the CSV) follows each group of rows: record the rows out by
  // then. Every group is non-empty and the last call follows the last row.
  std::vector<size_t> done_at;
  o.rows_done = [&] { done_at.push_back(plain.size() + via_copy.size()); };
  auto check_groups = [&](size_t rows, size_t at_least) {
    CAPTURE(done_at);
    REQUIRE(done_at.size() >= at_least);
    for (size_t i = 1; i < done_at.size(); ++i) CHECK(done_at[i] > done_at[i - 1]);
    CHECK(done_at.back() == rows);
    done_at.clear();
  };
  run_sweep(*model, name, d, g, all_points(g), o, [&](const SweepRow& r) { plain.push_back(r); });
  check_groups(plain.size(), g.formats.size());  // a wave per format at least
  o.device_model = copy.get();
  o.pass_bytes = pass_bytes;
  o.fused_channel_delta_on_cpu = variant == 3;  // the GPU's fused channel pass (LeNet-5's stages)
  if (variant == 0) o.chunk_bytes = 1;  // chunks of 3 points: a layer's chunks pipelined one after another
  run_sweep(*model, name, d, g, all_points(g), o, [&](const SweepRow& r) { via_copy.push_back(r); });
  check_groups(plain.size() + via_copy.size(), variant == 0 ? g.layers.size() : 1);  // an epoch per chunk there
  REQUIRE(via_copy.size() == plain.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    INFO("point " << plain[i].point.index << " " << plain[i].point.layer);
    CHECK(via_copy[i].point.index == plain[i].point.index);
    CHECK(via_copy[i].faulty_weights == plain[i].faulty_weights);
    CHECK(via_copy[i].changed_weights == plain[i].changed_weights);
  }
  check_rows_against_reference(via_copy, name, 5, d);
  // The copy holds its original weights again.
  const std::shared_ptr<Module> fresh = sweep_test_model(name, 5);
  const auto a = fresh->named_parameters(), b = copy->named_parameters();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].second.to_vector() == b[i].second.to_vector());
}

TEST_CASE("a sweep on the GPU gives the CPU sweep's rows", "[faults][sweep][cuda]") {
  if (!have_gpu("sweep --device cuda")) return;
  // Same points; on the GPU the faulted weights are drawn and decoded there, a layer's points
  // share stacked passes, and (with channel_path_min_macs 0) points that changed few channels
  // take the channel path: the fused kernel after LeNet-5's layers, the composed chain (batch
  // norm on the selected channels) after LeNet-5-BN's. The fault counts must be identical; accuracy may differ by one image per point (a near tie
  // between two logits can resolve either way under a different summation order: cuBLAS vs our
  // CPU GEMM), the mean loss by 1e-4 relative (float32 sums over <= 400 products per output,
  // then softmax and a mean over 40 images; observed differences are ~1e-6).
  const std::string name = GENERATE(as<std::string>{}, "lenet5", "lenet5_bn", "resnet18");
  // Chunks of 3 points, one epoch each (several epochs in turn), or a layer's points per chunk
  // and every chunk in one epoch.
  const bool small_chunks = GENERATE(true, false);
  CAPTURE(name, small_chunks);
  const bool resnet = name == "resnet18";
  const Dataset d = resnet ? resnet_test_set() : random_test_set(40);
  std::shared_ptr<Module> cpu_model = sweep_test_model(name, 5);
  std::shared_ptr<Module> gpu_model = sweep_test_model(name, 5);
  gpu_model->to(Device::CUDA);
  SweepGrid g = small_grid();
  g.layers = resnet ? std::vector<std::string>{"conv1", "layer2.0.conv2", "layer4.1.conv1", "fc"}
                    : std::vector<std::string>{"conv1", "conv2", "fc1", "fc3"};
  g.bits = {14};
  g.rates = {0.002, 0.05, 0.3};
  g.seeds = {3};
  std::vector<SweepRow> on_cpu, on_gpu;
  SweepRunOptions o;
  o.batch = 16;
  o.configs_per_pass = 3;
  o.channel_path_min_macs = 0;  // 16-image batches are far below the default: take the channel path anyway
  if (small_chunks) o.chunk_bytes = 1;  // chunks of 3 points: several per layer in the pipeline
  run_sweep(*cpu_model, name, d, g, all_points(g), o, [&](const SweepRow& r) { on_cpu.push_back(r); });
  o.device_model = gpu_model.get();
  run_sweep(*cpu_model, name, d, g, all_points(g), o, [&](const SweepRow& r) { on_gpu.push_back(r); });
  REQUIRE(on_cpu.size() == on_gpu.size());
  const double n = static_cast<double>(d.size());
  for (size_t i = 0; i < on_cpu.size(); ++i) {
    INFO("point " << on_cpu[i].point.index << " layer " << on_cpu[i].point.layer << " rate " << on_cpu[i].point.rate);
    CHECK(on_gpu[i].point.index == on_cpu[i].point.index);
    CHECK(on_gpu[i].faulty_weights == on_cpu[i].faulty_weights);
    CHECK(on_gpu[i].changed_weights == on_cpu[i].changed_weights);
    CHECK(on_gpu[i].nan == on_cpu[i].nan);
    CHECK(std::fabs(on_gpu[i].test_acc - on_cpu[i].test_acc) * n <= 1.0 + 1e-9);
    if (!on_cpu[i].nan) CHECK(std::fabs(on_gpu[i].test_loss - on_cpu[i].test_loss) <= 1e-4 * std::fabs(on_cpu[i].test_loss) + 1e-6);
  }
  // The GPU model holds its original weights again.
  const std::shared_ptr<Module> fresh = sweep_test_model(name, 5);
  const auto a = fresh->named_parameters(), b = gpu_model->named_parameters();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].second.to_vector() == b[i].second.to(Device::CPU).to_vector());
}

TEST_CASE("sweep rows do not depend on shards, threads or configurations per pass", "[faults][sweep]") {
  const Dataset d = random_test_set(24);
  std::shared_ptr<Module> model = make_model(parse_model_name("lenet5"), 9);
  SweepGrid g = small_grid();
  g.bits = {15};
  const std::string full = temp_path("full.csv");
  std::filesystem::remove(full);
  run_into(full, false, all_points(g), *model, d, g);
  const std::string full_text = read_text(full);

  // Three shards, each in its own file with one thread, then merged by index.
  const int saved_threads = num_threads();
  set_num_threads(1);
  std::vector<std::string> merged_lines;
  std::set<int64_t> indices;
  for (int64_t i = 0; i < 3; ++i) {
    const std::string path = temp_path("shard" + std::to_string(i) + ".csv");
    std::filesystem::remove(path);
    std::vector<int64_t> mine;
    for (int64_t p = 0; p < g.size(); ++p)
      if (SweepShard{i, 3}.owns(p)) mine.push_back(p);
    run_into(path, false, mine, *model, d, g, 16, 1 + i);
    for (const SweepRow& r : read_sweep_csv(path).rows) {
      CHECK(indices.insert(r.point.index).second);  // no duplicates across shards
      merged_lines.push_back(format_sweep_row(r));
    }
    std::filesystem::remove(path);
  }
  set_num_threads(saved_threads);
  CHECK(static_cast<int64_t>(indices.size()) == g.size());
  std::sort(merged_lines.begin(), merged_lines.end(), [](const std::string& a, const std::string& b) {
    return std::stoll(a) < std::stoll(b);
  });
  std::string merged = std::string(kSweepCsvHeader) + "\n";
  for (const std::string& l : merged_lines) merged += l + "\n";
  CHECK(merged == full_text);
  std::filesystem::remove(full);
}

TEST_CASE("a killed sweep resumed gives the same CSV as an uninterrupted one", "[faults][sweep]") {
  const Dataset d = random_test_set(24);
  std::shared_ptr<Module> model = make_model(parse_model_name("lenet5"), 4);
  SweepGrid g = small_grid();
  g.bits = {14};
  g.formats = {"q4.11"};
  const std::string full = temp_path("uninterrupted.csv"), part = temp_path("killed.csv");
  std::filesystem::remove(full);
  std::filesystem::remove(part);
  run_into(full, false, all_points(g), *model, d, g);

  // The first run dies after 11 points while writing the 12th row (a partial line is left).
  const std::vector<int64_t> every = all_points(g);
  const std::vector<int64_t> first(every.begin(), every.begin() + 11);
  run_into(part, false, first, *model, d, g);
  {
    std::ofstream out(part, std::ios::app | std::ios::binary);
    out << "11,lenet5,conv1,14,0,0.";
  }
  CHECK_THROWS_AS(SweepCsvWriter(part, false), InputError);  // no silent overwrite without --resume
  std::vector<int64_t> rest;
  {
    SweepCsvWriter w(part, true);
    std::set<int64_t> done;
    for (const SweepRow& r : w.existing_rows()) done.insert(r.point.index);
    CHECK(done.size() == 11);
    for (int64_t p : every)
      if (!done.count(p)) rest.push_back(p);
  }
  run_into(part, true, rest, *model, d, g);
  CHECK(read_text(part) == read_text(full));
  std::filesystem::remove(full);
  std::filesystem::remove(part);
}

TEST_CASE("sweep CSV rows read back equal, and the summary averages over seeds", "[faults][sweep]") {
  SweepRow a;
  a.model = "lenet5";
  a.point = SweepPoint{5, "q4.11", false, "fc1", 15, 1, 0.01, 3};
  a.faulty_weights = 480, a.changed_weights = 200, a.test_acc = 0.5, a.test_loss = 1.25;
  SweepRow b = a;
  b.point.index = 6, b.point.seed = 4, b.test_acc = 0.7;
  SweepRow base;
  base.model = "lenet5";
  base.point.index = 0, base.point.format = "q4.11", base.point.baseline = true, base.test_acc = 0.9;
  const std::string path = temp_path("roundtrip.csv");
  std::filesystem::remove(path);
  {
    SweepCsvWriter w(path, false);
    for (const SweepRow& r : {base, a, b}) w.append(r);
  }
  const std::vector<SweepRow> rows = read_sweep_csv(path).rows;
  REQUIRE(rows.size() == 3);
  CHECK(format_sweep_row(rows[1]) == format_sweep_row(a));
  CHECK(sweep_row_matches(rows[1], a.point, "lenet5"));
  CHECK_FALSE(sweep_row_matches(rows[1], b.point, "lenet5"));
  CHECK(rows[0].point.baseline);
  const std::vector<SweepSummaryLine> lines = summarize_sweep(rows);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].seeds == 2);
  CHECK(lines[1].acc_mean == Approx(0.6));
  CHECK(lines[1].acc_std == Approx(std::sqrt(0.02)));  // sample std of {0.5, 0.7}
  std::filesystem::remove(path);
}

TEST_CASE("sparse weight-change updates equal the layer run with the changed weights", "[faults][sweep]") {
  // Reference: conv2d/linear on the full changed weights; the sparse update of the clean output
  // must match up to float rounding (a few additions in another order: atol 1e-5 on O(1) values).
  NoGradGuard no_grad;
  auto random = [](Shape shape, uint64_t stream) {
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) {
      uint32_t w[4];
      philox_words(5, stream, static_cast<uint64_t>(i), w);
      t.data<float>()[i] = static_cast<float>(w[0] >> 8) / float(1 << 23) - 1.0f;
    }
    return t;
  };
  for (int64_t stride : {1, 2})
    for (int64_t pad : {0, 2}) {
      Tensor x = random({3, 4, 9, 8}, 1), w = random({5, 4, 3, 3}, 2), b = random({5}, 3);
      Tensor w2 = w.clone();
      for (int64_t i : {0, 17, 40, 41, 179}) w2.data<float>()[i] += 0.75f;
      const std::vector<WeightChange> ch = weight_changes(w.data<float>(), w2.data<float>(), w.numel());
      REQUIRE(ch.size() == 5);
      Tensor y = conv2d(x, w, b, stride, pad), ref = conv2d(x, w2, b, stride, pad);
      add_conv2d_weight_changes(x.data<float>(), y.data<float>(), 3, 4, 9, 8, 5, 3, 3, stride, pad, y.size(2), y.size(3), ch);
      const std::vector<float> got = y.to_vector(), want = ref.to_vector();
      for (size_t i = 0; i < got.size(); ++i) REQUIRE(std::abs(got[i] - want[i]) <= 1e-5f);
    }
  Tensor x = random({6, 7}, 4), w = random({3, 7}, 5), b = random({3}, 6);
  Tensor w2 = w.clone();
  for (int64_t i : {2, 9, 20}) w2.data<float>()[i] -= 1.5f;
  const std::vector<WeightChange> ch = weight_changes(w.data<float>(), w2.data<float>(), w.numel());
  Tensor y = linear(x, w, b), ref = linear(x, w2, b);
  add_linear_weight_changes(x.data<float>(), y.data<float>(), 6, 7, 3, ch);
  const std::vector<float> got = y.to_vector(), want = ref.to_vector();
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(std::abs(got[i] - want[i]) <= 1e-5f);
}

TEST_CASE("stages report a ReLU / max pool / flatten chain after their layer", "[faults][sweep][models]") {
  // LeNet-5: conv1 (pool 2, ReLU), conv2 (pool 2, ReLU, flatten), fc1 and fc2 (ReLU) match;
  // fc3 (nothing after) does not. With batch norm no stage matches (the chain starts with it).
  std::vector<std::pair<std::string, ForwardStage::ReluPool>> seen;
  for (const char* name : {"lenet5", "lenet5_bn"}) {
    std::shared_ptr<Module> m = sweep_test_model(name, 4);
    for (const ForwardStage& s : m->forward_stages())
      if (s.layer) seen.push_back({std::string(name) + "." + s.layers[0], s.after_relu_pool});
  }
  REQUIRE(seen.size() == 10);
  for (const auto& [stage, rp] : seen) {
    INFO(stage);
    const bool plain = stage.rfind("lenet5.", 0) == 0;
    const bool conv = stage.find("conv") != std::string::npos;
    CHECK(rp.matches == (plain && stage != "lenet5.fc3"));
    CHECK(rp.pool_k == (rp.matches && conv ? 2 : 0));
    CHECK(rp.pool_stride == (rp.matches && conv ? 2 : 0));
    CHECK(rp.pool_first == (rp.matches && conv));
  }
}

TEST_CASE("many linear weight changes taken in blocks of images equal the change-by-change loop", "[faults][sweep]") {
  // 70 images: a block of 64 and one of 6; most weights changed, so the blocked path runs. Every
  // output gets the same additions in the same order as the plain loop below.
  RandomStream rng(17, 17);
  const int64_t n = 70, in = 9, out = 5;
  std::vector<float> x(static_cast<size_t>(n * in)), y(static_cast<size_t>(n * out));
  for (auto& v : x) v = rng.next_uniform(-1.0f, 1.0f);
  for (auto& v : y) v = rng.next_uniform(-1.0f, 1.0f);
  std::vector<WeightChange> changes;
  for (int64_t i = 0; i < in * out; ++i)
    if (rng.next_below(10) < 7 && i != 3 * in + 4) changes.push_back({i, rng.next_uniform(-0.5f, 0.5f)});
  std::vector<float> want = y, got = y;
  for (int64_t img = 0; img < n; ++img)
    for (const WeightChange& c : changes)
      want[static_cast<size_t>(img * out + c.index / in)] += c.delta * x[static_cast<size_t>(img * in + c.index % in)];
  const int saved_threads = num_threads();
  for (int threads : {1, 3}) {
    CAPTURE(threads);
    set_num_threads(threads);
    got = y;
    add_linear_weight_changes(x.data(), got.data(), n, in, out, changes);
    for (size_t i = 0; i < want.size(); ++i) {
      INFO("element " << i);
      REQUIRE(std::abs(got[i] - want[i]) <= 1e-6f * (1.0f + std::abs(want[i])));  // FMA contraction aside
    }
  }
  set_num_threads(saved_threads);
}

TEST_CASE("conv2d_changes_relu_pool equals the chain of ops it replaces, bit for bit", "[faults][sweep]") {
  // Against add_conv2d_weight_changes on a copy of the clean output, then max_pool2d and relu in
  // the stage's order: the same additions in the same order and the same window rules, so the
  // same floats. Channel 2 gets no change (its next-stage values must stay as the caller left
  // them); one clean value is NaN (the pool keeps it); a subset run reads its planes through the
  // channel map.
  NoGradGuard no_grad;
  RandomStream rng(91, 91);
  auto random = [&](Shape shape) {
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = rng.next_uniform(-1.0f, 1.0f);
    return t;
  };
  struct Case {
    int64_t pad, pool_k, pool_stride;
    bool pool_first;
  };
  for (const Case& c : {Case{0, 2, 2, true}, Case{2, 2, 2, false}, Case{1, 3, 2, true}, Case{2, 0, 1, false}}) {
    CAPTURE(c.pad, c.pool_k, c.pool_stride, c.pool_first);
    const int64_t n = 3, in = 3, h = 11, w = 12, out = 5, k = 3;
    const Tensor x = random({n, in, h, w}), weight = random({out, in, k, k});
    Tensor clean = conv2d(x, weight, Tensor(), 1, c.pad);
    clean.data<float>()[7] = NAN;
    auto chain = [&](const Tensor& y) {
      Tensor t = y;
      if (!c.pool_first) t = relu(t);
      if (c.pool_k > 0) t = max_pool2d(t, c.pool_k, c.pool_stride);
      if (c.pool_first) t = relu(t);
      return t.contiguous();
    };
    std::vector<WeightChange> changes;
    for (int64_t i = 0; i < weight.numel(); i += 1 + static_cast<int64_t>(rng.next_below(5)))
      if (i / (in * k * k) != 2) changes.push_back({i, rng.next_uniform(-0.5f, 0.5f)});
    Tensor faulted = clean.clone();
    add_conv2d_weight_changes(x.data<float>(), faulted.data<float>(), n, in, h, w, out, k, k, 1, c.pad, clean.size(2),
                              clean.size(3), changes);
    const Tensor want = chain(faulted), clean_next = chain(clean);
    Tensor got = clean_next.clone();
    const ReluPoolChain rp{c.pool_k, c.pool_stride, c.pool_first};
    conv2d_changes_relu_pool(x.data<float>(), clean.data<float>(), out, {}, got.data<float>(), n, in, h, w, out, k, k,
                             c.pad, clean.size(2), clean.size(3), rp, changes);
    REQUIRE(got.shape() == want.shape());
    auto same = [](const Tensor& a, const Tensor& b) {
      return std::memcmp(a.data<float>(), b.data<float>(), a.nbytes()) == 0;
    };
    CHECK(same(got, want));
    CHECK(!same(want, clean_next));  // the changes moved something
    // Channels {4, 1} of the clean output as planes 0 and 1, with their changes re-indexed.
    const std::vector<int64_t> channels = {4, 1};
    std::vector<WeightChange> sub;
    for (size_t j = 0; j < channels.size(); ++j)
      for (const WeightChange& ch : changes)
        if (ch.index / (in * k * k) == channels[j])
          sub.push_back({static_cast<int64_t>(j) * in * k * k + ch.index % (in * k * k), ch.delta});
    const Tensor sub_want = select_index(want, 1, channels).contiguous();
    Tensor sub_got = select_index(clean_next, 1, channels).contiguous();
    conv2d_changes_relu_pool(x.data<float>(), clean.data<float>(), out, channels, sub_got.data<float>(), n, in, h, w,
                             2, k, k, c.pad, clean.size(2), clean.size(3), rp, sub);
    CHECK(same(sub_got, sub_want));
    // The same channels as changes (minus the clean chain output): sub_inplace's floats, and
    // every plane written though the output starts as garbage.
    Tensor diff_want = sub_want.clone();
    sub_inplace(diff_want, select_index(clean_next, 1, channels).contiguous());
    Tensor diff_got = Tensor::full(sub_want.shape(), 12345.0f);
    conv2d_changes_relu_pool(x.data<float>(), clean.data<float>(), out, channels, diff_got.data<float>(), n, in, h, w,
                             2, k, k, c.pad, clean.size(2), clean.size(3), rp, sub, clean_next.data<float>());
    CHECK(same(diff_got, diff_want));
  }
}

TEST_CASE("relu_pool_channel_delta equals the chain it fuses", "[faults][sweep]") {
  // Reference: select the channels of the clean output, add the changes (add_weight_changes),
  // relu, max pool, minus the selected channels of the clean pooled activations. The fused
  // pass does the same operations per element in the same order: equal up to fused
  // multiply-adds the compiler may form in one and not the other (1e-6 of O(1) values). A NaN
  // in the clean output must come out where the chain puts it.
  NoGradGuard no_grad;
  RandomStream rng(71, 71);
  auto random = [&](const Shape& shape) { return random_tensor(shape, rng); };
  struct Case {
    bool conv;
    int64_t h, k, stride, pad, pool_k, pool_stride;
    bool pool_first;
  };
  for (const Case& c : {Case{true, 9, 3, 1, 1, 2, 2, false}, Case{true, 9, 3, 1, 1, 2, 2, true},
                        Case{true, 11, 5, 2, 2, 3, 2, true}, Case{true, 8, 3, 1, 0, 0, 0, false},
                        Case{false, 1, 1, 1, 0, 0, 0, false}}) {
    CAPTURE(c.conv, c.h, c.k, c.stride, c.pad, c.pool_k, c.pool_first);
    const int64_t n = 3, in = 4, out = 6;
    const Tensor x = c.conv ? random({n, in, c.h, c.h}) : random({n, in});
    const Tensor w = c.conv ? random({out, in, c.k, c.k}) : random({out, in});
    Tensor clean_out = c.conv ? conv2d(x, w, Tensor(), c.stride, c.pad) : linear(x, w, Tensor());
    clean_out.data<float>()[7] = std::nanf("");  // image 0, channel 0 (or feature 7 of a linear output)
    // The chain in the case's order, on the clean output (ref) and on the changed channels.
    auto chain = [&](const Tensor& t) {
      if (c.pool_k == 0) return relu(t);
      return c.pool_first ? relu(max_pool2d(t, c.pool_k, c.pool_stride)) : max_pool2d(relu(t), c.pool_k, c.pool_stride);
    };
    const Tensor ref = chain(clean_out);
    const std::vector<int64_t> channels = {4, 0, 1};  // not ascending: order mix-ups show
    const int64_t per_out = w.numel() / out;
    PackedChanges changes;
    changes.out = 3;
    changes.per_out = per_out;
    for (int64_t i = 1; i < 3 * per_out; i += 1 + static_cast<int64_t>(rng.next_below(5)))
      changes.list.push_back({i, rng.next_uniform(-0.8f, 0.8f)});
    const LayerGeometry g{c.conv, c.k, c.k, c.stride, c.pad};
    changes.geometry = g;
    std::vector<PackedChanges> packed = {changes};
    pack_weight_changes(packed, Device::CPU);
    const Tensor got =
        relu_pool_channel_delta(x, clean_out, g, packed[0], channels, c.pool_k, c.pool_stride, c.pool_first, ref);

    Tensor y = select_index(clean_out, 1, channels);
    add_weight_changes(x, y, g, changes.list);
    Tensor z = chain(y).contiguous();
    sub_inplace(z, select_index(ref, 1, channels));
    REQUIRE(got.shape() == z.shape());
    const std::vector<float> a = got.to_vector(), b = z.to_vector();
    int64_t nan = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      INFO("element " << i << ": fused " << a[i] << " chain " << b[i]);
      REQUIRE(std::isnan(a[i]) == std::isnan(b[i]));
      nan += std::isnan(b[i]) ? 1 : 0;
      if (!std::isnan(b[i])) REQUIRE(std::abs(a[i] - b[i]) <= 1e-6 * (1.0 + std::abs(b[i])));
    }
    CHECK(nan >= 1);
    // Changes packed for another channel count are refused.
    PackedChanges wrong = packed[0];
    wrong.out = 2;
    CHECK_THROWS(relu_pool_channel_delta(x, clean_out, g, wrong, channels, c.pool_k, c.pool_stride, c.pool_first, ref));
  }
}

TEST_CASE("relu_pool_channel_delta_stacked gives each point's changed channels, zeros elsewhere", "[faults][sweep]") {
  // Block p must hold, on the channels list p changes, relu_pool_channel_delta of those channels
  // (the same body: bit for bit), and exactly 0 on every other channel, also where the clean
  // output holds a NaN; a null list gives a block of zeros. Conv with pool (LeNet-5's conv2
  // stage) and a linear layer without.
  NoGradGuard no_grad;
  RandomStream rng(73, 73);
  auto random = [&](const Shape& shape) { return random_tensor(shape, rng); };
  for (const bool conv : {true, false}) {
    CAPTURE(conv);
    const int64_t n = 3, in = 4, out = 6, k = 3, pool_k = conv ? 2 : 0;
    const Tensor x = conv ? random({n, in, 8, 8}) : random({n, in});
    const Tensor w = conv ? random({out, in, k, k}) : random({out, in});
    Tensor clean_out = conv ? conv2d(x, w, Tensor(), 1, 1) : linear(x, w, Tensor());
    clean_out.data<float>()[5] = std::nanf("");  // image 0, channel 0: no list below changes channel 0
    const Tensor ref = conv ? max_pool2d(relu(clean_out), pool_k, 2) : relu(clean_out);
    const LayerGeometry g = conv ? LayerGeometry{true, k, k, 1, 1} : LayerGeometry{};
    const int64_t per_out = w.numel() / out;
    // Point 0 changes channels 1 and 4, point 1 is null, point 2 changes channel 5 only, point 3 none.
    const std::vector<std::vector<int64_t>> touched = {{1, 4}, {}, {5}, {}};
    std::vector<PackedChanges> lists(touched.size());
    for (size_t p = 0; p < lists.size(); ++p) {
      lists[p].out = out, lists[p].per_out = per_out, lists[p].geometry = g;
      for (int64_t ch : touched[p])
        for (int64_t i = ch * per_out; i < (ch + 1) * per_out; i += 1 + static_cast<int64_t>(rng.next_below(4)))
          lists[p].list.push_back({i, rng.next_uniform(-0.8f, 0.8f)});
    }
    pack_weight_changes(lists, Device::CPU);
    const std::vector<const PackedChanges*> entries = {&lists[0], nullptr, &lists[2], &lists[3]};
    const Tensor got = relu_pool_channel_delta_stacked(x, clean_out, g, entries, pool_k, 2, false, ref);
    const int64_t blocks = 4, per = ref.numel() / n, plane = per / out;
    REQUIRE(got.numel() == blocks * n * per);
    const std::vector<float> gv = got.to_vector();
    for (int64_t p = 0; p < blocks; ++p) {
      CAPTURE(p);
      // The reference for the changed channels: the per-point op on them (a list re-indexed to them).
      std::vector<float> want(static_cast<size_t>(n * per), 0.0f);
      if (p != 1 && !touched[static_cast<size_t>(p)].empty()) {
        const std::vector<int64_t>& chans = touched[static_cast<size_t>(p)];
        PackedChanges sub;
        sub.out = static_cast<int64_t>(chans.size()), sub.per_out = per_out, sub.geometry = g;
        for (const WeightChange& c : lists[static_cast<size_t>(p)].list) {
          const int64_t slot = std::find(chans.begin(), chans.end(), c.index / per_out) - chans.begin();
          sub.list.push_back({slot * per_out + c.index % per_out, c.delta});
        }
        std::vector<PackedChanges> one = {sub};
        pack_weight_changes(one, Device::CPU);
        const std::vector<float> part =
            relu_pool_channel_delta(x, clean_out, g, one[0], chans, pool_k, 2, false, ref).to_vector();
        for (int64_t img = 0; img < n; ++img)
          for (size_t j = 0; j < chans.size(); ++j)
            for (int64_t e = 0; e < plane; ++e)
              want[static_cast<size_t>(img * per + chans[j] * plane + e)] =
                  part[static_cast<size_t>((img * static_cast<int64_t>(chans.size()) + static_cast<int64_t>(j)) * plane + e)];
      }
      for (int64_t i = 0; i < n * per; ++i) {
        const float a = gv[static_cast<size_t>(p * n * per + i)], b = want[static_cast<size_t>(i)];
        INFO("element " << i << ": stacked " << a << " per point " << b);
        REQUIRE(std::memcmp(&a, &b, sizeof(float)) == 0);
      }
    }
    // A list packed for a selection of channels is refused.
    PackedChanges wrong = lists[0];
    wrong.out = 2;
    CHECK_THROWS(relu_pool_channel_delta_stacked(x, clean_out, g, {&wrong}, pool_k, 2, false, ref));
  }
}

TEST_CASE("the GPU's weight-change bodies equal the CPU loops (run on the CPU)", "[faults][sweep]") {
  // weight_changes_thread.h for every output element, in both index types, against
  // add_conv2d_weight_changes / add_linear_weight_changes: the same additions in the same order,
  // equal up to fused multiply-adds one compiler may form and the other not (1e-6 of O(1)).
  RandomStream rng(72, 72);
  auto random = [&](int64_t count) {
    std::vector<float> v(static_cast<size_t>(count));
    for (auto& e : v) e = rng.next_uniform(-1.0f, 1.0f);
    return v;
  };
  auto check = [](const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& before) {
    int64_t moved = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      INFO("element " << i << ": body " << got[i] << " loop " << want[i]);
      REQUIRE(std::abs(got[i] - want[i]) <= 1e-6 * (1.0 + std::abs(want[i])));
      moved += want[i] != before[i] ? 1 : 0;
    }
    CHECK(moved > 0);
  };
  struct Case {
    int64_t n, in, h, w, out, k, stride, pad;
  };
  for (const Case& c : {Case{2, 3, 9, 8, 5, 3, 1, 1}, Case{3, 2, 11, 11, 4, 5, 2, 2}, Case{1, 4, 7, 6, 6, 3, 2, 0}}) {
    CAPTURE(c.k, c.stride, c.pad);
    const int64_t ho = (c.h + 2 * c.pad - c.k) / c.stride + 1, wo = (c.w + 2 * c.pad - c.k) / c.stride + 1;
    const std::vector<float> x = random(c.n * c.in * c.h * c.w), y = random(c.n * c.out * ho * wo);
    std::vector<PackedChanges> packed(1);
    packed[0].geometry = LayerGeometry{true, c.k, c.k, c.stride, c.pad};
    packed[0].out = c.out;
    packed[0].per_out = c.in * c.k * c.k;
    // Channel 1 gets no change (its outputs must stay as they were).
    for (int64_t i = 0; i < c.out * packed[0].per_out; i += 1 + static_cast<int64_t>(rng.next_below(7)))
      if (i / packed[0].per_out != 1) packed[0].list.push_back({i, rng.next_uniform(-0.5f, 0.5f)});
    pack_weight_changes(packed, Device::CPU);
    std::vector<float> want = y;
    add_conv2d_weight_changes(x.data(), want.data(), c.n, c.in, c.h, c.w, c.out, c.k, c.k, c.stride, c.pad, ho, wo,
                              packed[0].list);
    const int32_t* st = packed[0].starts.data<int32_t>();
    const int32_t* tp = packed[0].tap.data<int32_t>();
    const float* dl = packed[0].delta.data<float>();
    for (int bits : {32, 64}) {
      std::vector<float> got = y;
      for (int64_t e = 0; e < static_cast<int64_t>(y.size()); ++e) {
        float v = 0;
        const bool changed =
            bits == 32 ? conv_change_at<int32_t>(x.data(), y.data(), static_cast<int32_t>(e), static_cast<int32_t>(c.in),
                                                 static_cast<int32_t>(c.h), static_cast<int32_t>(c.w),
                                                 static_cast<int32_t>(c.out), static_cast<int32_t>(c.stride),
                                                 static_cast<int32_t>(c.pad), static_cast<int32_t>(ho),
                                                 static_cast<int32_t>(wo), st, tp, dl, &v)
                       : conv_change_at<int64_t>(x.data(), y.data(), e, c.in, c.h, c.w, c.out, c.stride, c.pad, ho, wo,
                                                 st, tp, dl, &v);
        if (changed) got[static_cast<size_t>(e)] = v;
        CHECK(changed == ((e / (ho * wo)) % c.out != 1));
      }
      check(got, want, y);
    }
  }
  const int64_t n = 5, in = 9, out = 4;
  const std::vector<float> x = random(n * in), y = random(n * out);
  std::vector<PackedChanges> packed(1);
  packed[0].out = out;
  packed[0].per_out = in;
  for (int64_t i : {0, 3, 8, 20, 21, 35}) packed[0].list.push_back({i, rng.next_uniform(-0.5f, 0.5f)});
  pack_weight_changes(packed, Device::CPU);
  std::vector<float> want = y, got = y;
  add_linear_weight_changes(x.data(), want.data(), n, in, out, packed[0].list);
  for (int64_t e = 0; e < n * out; ++e) {
    float v = 0;
    if (linear_change_at<int64_t>(x.data(), y.data(), e, in, out, packed[0].starts.data<int32_t>(),
                                  packed[0].tap.data<int32_t>(), packed[0].delta.data<float>(), &v))
      got[static_cast<size_t>(e)] = v;
  }
  check(got, want, y);
}

TEST_CASE("a sweep over a test set without images is refused with the set's name", "[faults][sweep]") {
  std::shared_ptr<Module> model = sweep_test_model("lenet5", 5);
  Dataset empty = random_test_set(4);
  empty.name = "four-images-less-four";
  empty.images = Tensor();
  empty.labels = Tensor();
  const SweepGrid g = small_grid();
  SweepRunOptions o;
  CHECK_THROWS_WITH(run_sweep(*model, "lenet5", empty, g, all_points(g), o, [](const SweepRow&) {}),
                    Catch::Contains("four-images-less-four") && Catch::Contains("no images"));
}

TEST_CASE("RunAhead runs the steps in order on its own thread and hands each over once done", "[sweep][threads]") {
  const int saved = num_threads();
  set_num_threads(1);
  const std::thread::id caller = std::this_thread::get_id();
  const size_t n = 50;
  std::vector<int64_t> results(n, -1);
  std::vector<size_t> order;  // written by the worker only, read after the last ready()
  std::atomic<int> other_thread{0}, one_omp_thread{0};
  {
    RunAhead ahead(0, n, [&](size_t k) {
      results[k] = static_cast<int64_t>(k * k);
      order.push_back(k);
      if (std::this_thread::get_id() != caller) ++other_thread;
      if (omp_get_max_threads() == 1) ++one_omp_thread;  // the caller's OpenMP setting
    });
    for (size_t k = 0; k < n; ++k) {
      ahead.ready(k);
      CHECK(results[k] == static_cast<int64_t>(k * k));
    }
  }
  set_num_threads(saved);
  REQUIRE(order.size() == n);
  for (size_t k = 0; k < n; ++k) CHECK(order[k] == k);
  CHECK(other_thread.load() == static_cast<int>(n));
  CHECK(one_omp_thread.load() == static_cast<int>(n));
}

TEST_CASE("RunAhead rethrows a step's error at that step and stops; destroying it early stops it", "[sweep][threads]") {
  std::atomic<int> ran{0};
  {
    RunAhead ahead(10, 20, [&](size_t k) {
      if (k == 13) throw Error("step 13 failed");
      ++ran;
    });
    for (size_t k = 10; k < 13; ++k) CHECK_NOTHROW(ahead.ready(k));
    CHECK_THROWS_WITH(ahead.ready(13), Catch::Contains("step 13 failed"));
    CHECK_THROWS_WITH(ahead.ready(17), Catch::Contains("step 13 failed"));
    CHECK_THROWS_WITH(ahead.ready(20), Catch::Contains("past its last step"));  // not a step of this RunAhead
  }
  CHECK(ran.load() == 3);  // 10, 11, 12; nothing after the failure

  std::atomic<int> started{0};
  {
    RunAhead ahead(0, 100000, [&](size_t) {
      ++started;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    ahead.ready(0);
  }  // stops after the step in progress
  CHECK(started.load() >= 1);
  CHECK(started.load() < 100000);
}

TEST_CASE("The sweep's warm-up stacks as many batches as its passes stack points", "[sweep]") {
  // LeNet-5 at batch 16: the largest tensor is conv1's output (padding 2), 16 x 6 x 28 x 28 floats
  // (301056 bytes; the input is 50176), and a pass of P points holds about twice P of those.
  const Dataset d = random_test_set(40);
  std::shared_ptr<Module> copy = sweep_test_model("lenet5", 5);
  copy->train(true);
  SweepRunOptions o;
  o.batch = 16;
  o.configs_per_pass = 10;
  CHECK_THROWS_WITH(warm_up_sweep(d, o), Catch::Contains("no model copy"));
  o.device_model = copy.get();
  CHECK(warm_up_sweep(d, o) == 10);  // 4 GiB of pass memory: configs_per_pass
  o.pass_bytes = 2 * 301056 * 3 + 5;
  CHECK(warm_up_sweep(d, o) == 3);
  o.pass_bytes = 2 * 301056 * 3 - 1;
  CHECK(warm_up_sweep(d, o) == 2);
  o.pass_bytes = 1;
  CHECK(warm_up_sweep(d, o) == 1);
  CHECK(copy->is_training());  // left in the mode it had
}

TEST_CASE("The sweep's warm-up on a GPU copy loads its kernels and stacks as on the CPU", "[faults][sweep][cuda]") {
  if (!have_gpu("warm_up_sweep")) return;
  Dataset d = random_test_set(40);
  d.to_device(Device::CUDA);
  std::shared_ptr<Module> copy = sweep_test_model("lenet5", 5);
  copy->to(Device::CUDA);
  copy->train(true);
  SweepRunOptions o;
  o.batch = 16;
  o.configs_per_pass = 10;
  o.device_model = copy.get();
  CHECK(warm_up_sweep(d, o) == 10);  // preload_sweep_kernels ran first (a kernel it cannot load throws)
  o.pass_bytes = 2 * 301056 * 3 + 5;  // as in the CPU test: conv1's output at batch 16 is 301056 bytes
  CHECK(warm_up_sweep(d, o) == 3);
  CHECK(copy->is_training());  // left in the mode it had
}
