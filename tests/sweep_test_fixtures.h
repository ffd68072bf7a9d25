// Shared by the sweep tests: a small grid, random test sets and models, temporary paths, a helper
// that runs points of a sweep into a CSV, and the row-by-row check against the plain reference.
#pragma once
#include <omp.h>
#include <unistd.h>

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

#include <catch2/catch.hpp>

#include "base/error.h"
#include "base/weight_format.h"
#include "faults/fault_spec.h"
#include "faults/faulty_model.h"
#include "faults/weight_codec.h"
#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/parallel.h"
#include "framework/random.h"
#include "framework/train/trainer.h"
#include "models/model_zoo.h"
#include "sweep/block_scores.h"
#include "sweep/channel_delta.h"
#include "sweep/run_ahead.h"
#include "sweep/sweep_csv.h"
#include "sweep/sweep_delta.h"
#include "sweep/sweep_grid.h"
#include "sweep/sweep_point.h"
#include "sweep/sweep_runner.h"
#include "sweep/sweep_summary.h"
#include "sweep/sweep_warm_up.h"
#include "sweep/weight_changes_op.h"
#include "sweep/weight_changes_thread.h"
#include "gpu_available.h"
#include "random_tensor.h"

namespace stuckat::sweep::test {


inline SweepGrid small_grid() {
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
inline Dataset random_test_set(int64_t n) {
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

inline std::string temp_path(const std::string& name) {
  // The process id keeps test executables that ctest runs side by side off each other's files.
  return (std::filesystem::temp_directory_path() / ("stuckat_test_sweep_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<int64_t> all_points(const SweepGrid& g) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < g.size(); ++i) v.push_back(i);
  return v;
}

// Runs `points` into a CSV at `path` (resuming when asked) and returns the rows written.
inline void run_into(const std::string& path, bool resume, const std::vector<int64_t>& points, Module& model,
              const Dataset& data, const SweepGrid& grid, int64_t batch = 16, int64_t configs = 3) {
  SweepCsvWriter w(path, resume);
  SweepRunOptions o;
  o.batch = batch;
  o.configs_per_pass = configs;
  run_sweep(model, "lenet5", data, grid, points, o, [&](const SweepRow& r) { w.append(r); });
}



// A model whose batch-norm statistics and affine parameters are set to varied values (not the
// 0/1 defaults), so that a channel paired with the wrong statistics shows.
inline std::shared_ptr<Module> sweep_test_model(const std::string& name, uint64_t seed) {
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
inline Tensor random_images(int64_t n, int64_t c, int64_t hw, uint64_t stream) {
  Tensor x = Tensor::empty({n, c, hw, hw});
  for (int64_t i = 0; i < x.numel(); ++i) {
    uint32_t w[4];
    philox_words(13, stream, static_cast<uint64_t>(i), w);
    x.data<float>()[i] = static_cast<float>(w[0] >> 8) / float(1 << 23) - 1.0f;
  }
  return x;
}

// Six random 32x32x3 images labelled 0..5: small enough for ResNet-18 on the CPU.
inline Dataset resnet_test_set() {
  Dataset d;
  d.name = "random";
  d.images = random_images(6, 3, 32, 7);
  d.labels = Tensor::empty({6}, DType::I32);
  for (int64_t i = 0; i < 6; ++i) d.labels.data<int32_t>()[i] = static_cast<int32_t>(i);
  return d;
}


// Each row against the plain reference: a fresh model with the point's faults injected into all
// of it, evaluated with evaluate() in batches of 16.
inline void check_rows_against_reference(const std::vector<SweepRow>& rows, const std::string& name, uint64_t seed,
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


inline bool same_change_lists(const std::vector<WeightChange>& a, const std::vector<WeightChange>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].index != b[i].index || std::memcmp(&a[i].delta, &b[i].delta, sizeof(float)) != 0) return false;
  return true;
}

}  // namespace stuckat::sweep::test
