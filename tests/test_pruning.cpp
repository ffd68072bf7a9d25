// Pruning: magnitude selection keeps exactly the requested count with deterministic
// ties (hand-computed cases and a naive property check), the global threshold and the per-layer
// floor of bounded one-shot, masks in checkpoints, and pruned weights staying exactly 0 through
// many SGD steps with momentum and weight decay (f32 masked SGD, and the fused fault-aware
// update on the CPU and, when a GPU is present, CUDA), including stuck-at faults on pruned cells.
#include <catch2/catch.hpp>

#include "gpu_available.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "faults/fault_aware_sgd.h"
#include "faults/fault_sgd_update.h"
#include "faults/cuda/fault_sgd_update_cuda.h"
#include "faults/fault_spec.h"
#include "base/word_codec.h"
#include "base/device.h"
#include "base/error.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "kernels/cpu/sgd_update.h"
#include "models/model_zoo.h"
#include "pruning/density_report.h"
#include "pruning/global_magnitude.h"
#include "pruning/magnitude_selection.h"
#include "pruning/masked_sgd.h"
#include "pruning/masked_sgd_update.h"
#include "pruning/oneshot_prune.h"
#include "pruning/prune_mask_io.h"
#include "pruning/pruned_cell_faults.h"

using namespace stuckat;

namespace {

std::vector<uint8_t> select(bool fast, const std::vector<float>& w, const std::vector<uint8_t>* eligible, int64_t count) {
  std::vector<uint8_t> keep(w.size(), 9);
  const uint8_t* e = eligible ? eligible->data() : nullptr;
  if (fast)
    keep_largest(w.data(), e, static_cast<int64_t>(w.size()), count, keep.data());
  else
    keep_largest_ref(w.data(), e, static_cast<int64_t>(w.size()), count, keep.data());
  return keep;
}

std::shared_ptr<Module> lenet(uint64_t seed = 3) { return make_model(parse_model_name("lenet5"), seed); }

// All prunable weights of the model, concatenated in layer order.
std::vector<float> all_weights(const Module& model) {
  std::vector<float> out;
  for (const PrunableLayer& l : prunable_layers(model)) {
    const std::vector<float> v = l.weight.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

std::vector<uint8_t> all_keep(const PruneMasks& masks) {
  std::vector<uint8_t> out;
  for (const LayerMask& m : masks) out.insert(out.end(), m.keep.begin(), m.keep.end());
  return out;
}

}  // namespace

TEST_CASE("magnitude selection: hand-computed cases, ties to the lower index", "[pruning]") {
  // |w| = .5 .9 .5 .1 .5 .9 0 .5: order 1, 5 (0.9), then 0, 2, 4, 7 (0.5), 3, 6
  const std::vector<float> w = {0.5f, -0.9f, 0.5f, 0.1f, -0.5f, 0.9f, 0.0f, 0.5f};
  for (bool fast : {false, true}) {
    CAPTURE(fast);
    CHECK(select(fast, w, nullptr, 4) == std::vector<uint8_t>{1, 1, 1, 0, 0, 1, 0, 0});
    CHECK(select(fast, w, nullptr, 3) == std::vector<uint8_t>{1, 1, 0, 0, 0, 1, 0, 0});
    CHECK(select(fast, w, nullptr, 5) == std::vector<uint8_t>{1, 1, 1, 0, 1, 1, 0, 0});
    CHECK(select(fast, w, nullptr, 0) == std::vector<uint8_t>(8, 0));
    CHECK(select(fast, w, nullptr, 8) == std::vector<uint8_t>(8, 1));
    // index 1 already pruned: it is never kept, however large
    const std::vector<uint8_t> eligible = {1, 0, 1, 1, 1, 1, 1, 1};
    CHECK(select(fast, w, &eligible, 3) == std::vector<uint8_t>{1, 0, 1, 0, 0, 1, 0, 0});
    CHECK(select(fast, w, &eligible, 7) == std::vector<uint8_t>{1, 0, 1, 1, 1, 1, 1, 1});
  }
  std::vector<uint8_t> keep(8);
  CHECK_THROWS(keep_largest(w.data(), nullptr, 8, 9, keep.data()));
}

TEST_CASE("magnitude selection keeps exactly the count with many ties; fast equals the reference", "[pruning]") {
  std::mt19937 rng(11);
  const int n = 5003;
  std::vector<float> w(n);
  std::vector<uint8_t> eligible(n);
  for (int i = 0; i < n; ++i) {
    w[i] = static_cast<float>(static_cast<int>(rng() % 9) - 4) * 0.25f;  // 9 values: ties everywhere
    eligible[i] = rng() % 5 != 0;
  }
  int64_t n_eligible = 0;
  for (uint8_t e : eligible) n_eligible += e;
  for (int64_t count : {int64_t{0}, int64_t{1}, int64_t{777}, int64_t{2000}, n_eligible - 1, n_eligible}) {
    CAPTURE(count);
    const std::vector<uint8_t> ref = select(false, w, &eligible, count);
    const std::vector<uint8_t> fast = select(true, w, &eligible, count);
    CHECK(fast == ref);
    int64_t kept = 0;
    float min_kept = INFINITY, max_dropped = -1;
    int64_t last_kept_at_min = -1, first_dropped_at_min = n;
    for (int i = 0; i < n; ++i) {
      if (!eligible[i]) {
        REQUIRE(ref[i] == 0);
        continue;
      }
      if (ref[i]) {
        ++kept;
        min_kept = std::min(min_kept, std::fabs(w[i]));
      } else {
        max_dropped = std::max(max_dropped, std::fabs(w[i]));
      }
    }
    CHECK(kept == count);
    if (count > 0 && count < n_eligible) {
      CHECK(min_kept >= max_dropped);  // nothing dropped is larger than something kept
      for (int i = 0; i < n; ++i)      // among the threshold ties, kept ones come first
        if (eligible[i] && std::fabs(w[i]) == min_kept) {
          if (ref[i]) last_kept_at_min = i;
          else first_dropped_at_min = std::min<int64_t>(first_dropped_at_min, i);
        }
      if (min_kept == max_dropped) CHECK(last_kept_at_min < first_dropped_at_min);
    }
  }
}

TEST_CASE("global one-shot keeps round(density * total) weights with one threshold over all layers", "[pruning]") {
  auto model = lenet();
  const int64_t total = 150 + 2400 + 48000 + 10080 + 840;  // LeNet-5's conv/linear weights
  for (double density : {1.0, 0.5, 0.1, 0.013, 0.01, 0.001}) {
    CAPTURE(density);
    PruneMasks masks = dense_masks(*model);
    REQUIRE(total_weights(masks) == total);
    oneshot_global(*model, masks, density);
    CHECK(total_kept(masks) == static_cast<int64_t>(std::llround(density * total)));
    const std::vector<float> w = all_weights(*model);
    const std::vector<uint8_t> keep = all_keep(masks);
    float min_kept = INFINITY, max_dropped = 0;
    for (size_t i = 0; i < w.size(); ++i)
      (keep[i] ? min_kept : max_dropped) =
          keep[i] ? std::min(min_kept, std::fabs(w[i])) : std::max(max_dropped, std::fabs(w[i]));
    CHECK(min_kept >= max_dropped);
  }
  // pruning again only removes: from 10% to 5% of the total
  PruneMasks masks = dense_masks(*model);
  oneshot_global(*model, masks, 0.1);
  const std::vector<uint8_t> before = all_keep(masks);
  oneshot_global(*model, masks, 0.05);
  const std::vector<uint8_t> after = all_keep(masks);
  for (size_t i = 0; i < before.size(); ++i) REQUIRE(after[i] <= before[i]);
  CHECK(total_kept(masks) == std::llround(0.05 * total));
  CHECK_THROWS_AS(oneshot_global(*model, masks, 0.2), InputError);  // cannot bring weights back
}

TEST_CASE("layer floor: hand-computed counts", "[pruning]") {
  CHECK(layer_floor(150, 0.012) == 2);      // 1.8
  CHECK(layer_floor(2400, 0.012) == 29);    // 28.8
  CHECK(layer_floor(48000, 0.005) == 240);  // 240 exactly (240.00000000000003 in binary)
  CHECK(layer_floor(10080, 0.005) == 51);   // 50.4
  CHECK(layer_floor(840, 0.005) == 5);      // 4.2
  CHECK(layer_floor(10, 0.001) == 1);       // at least one weight
  CHECK(layer_floor(10, 0.0) == 0);
}

TEST_CASE("bounded one-shot: the per-layer floor holds for every layer", "[pruning]") {
  auto model = lenet();
  // Make fc3 tiny so global one-shot would prune it away entirely.
  for (const PrunableLayer& l : prunable_layers(*model))
    if (l.name == "fc3") {
      float* w = l.weight.data<float>();
      for (int64_t i = 0; i < l.weight.numel(); ++i) w[i] *= 1e-4f;
    }
  PruneMasks global = dense_masks(*model);
  oneshot_global(*model, global, 0.01);
  CHECK(find_mask(global, "fc3")->kept() == 0);  // the collapse the floor exists for

  const std::vector<int64_t> floors = {2, 29, 240, 51, 5};  // layer_floor above, conv 1.2%, fc 0.5%
  for (double density : {0.1, 0.01, 0.006, 0.001}) {
    CAPTURE(density);
    PruneMasks masks = dense_masks(*model);
    const BoundedOneshotReport r = oneshot_bounded(*model, masks, density, 0.005, 0.012);
    CHECK(r.floors == floors);
    const int64_t requested = std::llround(density * 61470);
    CHECK(r.requested == requested);
    CHECK(total_kept(masks) == std::max<int64_t>(requested, 2 + 29 + 240 + 51 + 5));
    for (const LayerMask& m : masks) {
      CAPTURE(m.layer);
      const double min = m.is_conv() ? 0.012 : 0.005;
      CHECK(static_cast<double>(m.kept()) >= min * static_cast<double>(m.total()) - 1e-9);
    }
    // Each layer keeps at least its own largest weights up to the floor.
    std::vector<PrunableLayer> layers = prunable_layers(*model);
    for (size_t l = 0; l < layers.size(); ++l) {
      const std::vector<float> w = layers[l].weight.to_vector();
      std::vector<uint8_t> top(w.size());
      keep_largest_ref(w.data(), nullptr, static_cast<int64_t>(w.size()), floors[l], top.data());
      for (size_t i = 0; i < w.size(); ++i)
        if (top[i]) REQUIRE(masks[l].keep[i] == 1);
    }
  }
}

TEST_CASE("prune masks travel in checkpoints; load_checkpoint ignores them", "[pruning][io]") {
  auto model = lenet();
  PruneMasks masks = dense_masks(*model);
  oneshot_global(*model, masks, 0.2);
  apply_masks(*model, masks);
  const std::string path = (std::filesystem::temp_directory_path() / "stuckat_test_pruned.safetensors").string();
  save_checkpoint(path, *model, {{"model", "lenet5"}}, prune_mask_tensors(masks));
  auto fresh = lenet(99);
  load_checkpoint(path, *fresh);  // the prune.* tensors are not "unexpected"
  CHECK(all_weights(*fresh) == all_weights(*model));
  bool found = false;
  const PruneMasks back = read_prune_masks(path, *fresh, &found);
  CHECK(found);
  CHECK(all_keep(back) == all_keep(masks));
  const std::vector<LayerDensity> rows = density_report(*fresh, back);
  int64_t nonzero = 0;
  for (const LayerDensity& r : rows) nonzero += r.nonzero;
  CHECK(nonzero == std::llround(0.2 * 61470));  // no kept weight of a random init is exactly 0
  const nlohmann::json j = density_json(rows);
  CHECK(j["total"]["total"] == 61470);
  CHECK(j["layers"][0]["name"] == "conv1");
  // a mask of the wrong size names the file
  NamedTensorList bad = {{"prune.conv1", Tensor::zeros({7}, DType::U8)}};
  write_safetensors(path, bad, {});
  CHECK_THROWS_AS(read_prune_masks(path, *fresh), InputError);
  std::filesystem::remove(path);
}

TEST_CASE("masked SGD: pruned weights and momentum exactly 0 after many steps; kept ones are plain SGD",
          "[pruning][train]") {
  const int n = 1031;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> w0(n);
  std::vector<uint8_t> keep(n);
  for (int i = 0; i < n; ++i) {
    w0[i] = u(rng);
    keep[i] = i % 3 != 0;
  }
  struct Opt {
    float momentum, dampening, wd;
    bool nesterov;
  };
  for (const Opt& o : {Opt{0.9f, 0, 5e-4f, false}, Opt{0.9f, 0, 5e-4f, true}, Opt{0.5f, 0.1f, 1e-2f, false},
                       Opt{0, 0, 5e-4f, false}}) {
    CAPTURE(o.momentum, o.nesterov, o.wd);
    const cpu::SgdConfig c{0.05f, o.momentum, o.dampening, o.wd, o.nesterov};
    std::vector<float> ref = w0, fast = w0, plain = w0, bref(n, 7.0f), bfast(n, 7.0f), bplain(n, 7.0f);
    for (int s = 0; s < 300; ++s) {
      std::vector<float> g(n);
      for (float& x : g) x = u(rng);  // pruned weights get gradients too: the mask must win
      masked_sgd_update_ref(ref.data(), g.data(), bref.data(), keep.data(), n, c, s == 0);
      masked_sgd_update(fast.data(), g.data(), bfast.data(), keep.data(), n, c, s == 0);
      cpu::sgd_update_ref(plain.data(), g.data(), bplain.data(), n, c, s == 0);
    }
    for (int i = 0; i < n; ++i) {
      REQUIRE(std::memcmp(&ref[i], &fast[i], 4) == 0);
      if (!keep[i]) {
        REQUIRE(ref[i] == 0.0f);
        if (o.momentum != 0) REQUIRE(bref[i] == 0.0f);
      } else {
        REQUIRE(std::memcmp(&ref[i], &plain[i], 4) == 0);  // elementwise: kept weights never see pruned ones
      }
    }
  }
}

TEST_CASE("MaskedSgd keeps a pruned LeNet-5 exactly sparse and round-trips its state", "[pruning][train]") {
  auto model = lenet();
  PruneMasks masks = dense_masks(*model);
  oneshot_global(*model, masks, 0.1);
  MaskedSgd opt(*model, {0.1f, 0.9f, 0.0f, 5e-4f, false}, masks);
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int s = 0; s < 50; ++s) {
    opt.zero_grad();
    for (const auto& [name, p] : model->named_parameters()) {
      Tensor g = Tensor::empty(p.shape());
      for (int64_t i = 0; i < g.numel(); ++i) g.data<float>()[i] = u(rng);
      Tensor(p).set_grad(g);
    }
    opt.step();
  }
  const std::vector<float> w = all_weights(*model);
  const std::vector<uint8_t> keep = all_keep(masks);
  int64_t nonzero = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (!keep[i]) REQUIRE(w[i] == 0.0f);
    nonzero += w[i] != 0.0f;
  }
  CHECK(nonzero == std::llround(0.1 * 61470));
  const OptimizerState st = opt.state();
  auto other = lenet();
  MaskedSgd again(*other, {0.1f, 0.9f, 0.0f, 5e-4f, false}, dense_masks(*other));
  again.load_state(st);
  CHECK(all_keep(again.masks()) == keep);
}

namespace {

constexpr float kLsb = 1.0f / 2048.0f;  // Q4.11

FaultSgdConfig q411(FaultMode mode) {
  FaultSgdConfig c;
  c.lr = 0.05f;
  c.momentum = 0.9f;
  c.weight_decay = 5e-4f;
  c.kind = WeightFormatKind::Fixed;
  c.step = kLsb;
  c.mode = mode;
  c.clip_bound = 0.5f;
  return c;
}

}  // namespace

TEST_CASE("fused fault-aware update: pruned weights exactly 0 in every mode when their cells are fault-free",
          "[pruning][faults][train]") {
  const int n = 2053;
  for (FaultMode mode : {FaultMode::None, FaultMode::KeepBit, FaultMode::KeepWeight, FaultMode::Zero, FaultMode::Clip}) {
    CAPTURE(fault_mode_name(mode));
    const FaultSgdConfig c = q411(mode);
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> master(n), w_eff(n), buf(n), m2, e2, b2;
    std::vector<uint16_t> am(n, 0xFFFF), om(n, 0);
    std::vector<uint8_t> keep(n);
    for (int i = 0; i < n; ++i) {
      master[i] = u(rng);
      keep[i] = i % 4 != 1;
      if (keep[i] && i % 5 == 0) {  // faults only on remaining weights (target=nonzero)
        const uint16_t bit = static_cast<uint16_t>(1u << (rng() % 16));
        if (rng() % 2) om[i] = bit, am[i] = 0xFFFF;
        else am[i] = static_cast<uint16_t>(~bit);
      }
    }
    fault_prepare_weights(master.data(), w_eff.data(), keep.data(), am.data(), om.data(), n, c);
    m2 = master, e2 = w_eff, b2 = buf;
    for (int s = 0; s < 200; ++s) {
      std::vector<float> g(n);
      for (float& x : g) x = u(rng);
      fault_sgd_update_ref(master.data(), w_eff.data(), g.data(), buf.data(), keep.data(), am.data(), om.data(), n, c,
                           s == 0);
      fault_sgd_update(m2.data(), e2.data(), g.data(), b2.data(), keep.data(), am.data(), om.data(), n, c, s == 0);
    }
    for (int i = 0; i < n; ++i) {
      REQUIRE(std::memcmp(&master[i], &m2[i], 4) == 0);
      REQUIRE(std::memcmp(&w_eff[i], &e2[i], 4) == 0);
      REQUIRE(std::memcmp(&buf[i], &b2[i], 4) == 0);
      if (!keep[i]) {
        REQUIRE(master[i] == 0.0f);
        REQUIRE(w_eff[i] == 0.0f);
        REQUIRE(buf[i] == 0.0f);
      }
    }
  }
}

TEST_CASE("a pruned cell with a stuck-at-1 bit reads that bit in keep_bit/keep_weight/clip, 0 in zero/none",
          "[pruning][faults][train]") {
  // Q4.11: SA1 on bit 12 of the word 0 reads 2^(12-11) = 2.0; on bit 15 (sign) 0x8000 = -16; SA0 stays 0.
  const int n = 4;
  const std::vector<uint8_t> keep = {0, 0, 0, 1};
  const std::vector<uint16_t> am = {0xFFFF, 0xFFFF, static_cast<uint16_t>(~(1u << 14)), 0xFFFF};
  const std::vector<uint16_t> om = {1u << 12, 1u << 15, 0, 0};
  struct Expect {
    FaultMode mode;
    float sa1_b12, sa1_b15;
  };
  for (const Expect& e : {Expect{FaultMode::KeepBit, 2.0f, -16.0f}, Expect{FaultMode::KeepWeight, 2.0f, -16.0f},
                          Expect{FaultMode::Clip, 0.5f, -0.5f}, Expect{FaultMode::Zero, 0.0f, 0.0f},
                          Expect{FaultMode::None, 0.0f, 0.0f}}) {
    CAPTURE(fault_mode_name(e.mode));
    const FaultSgdConfig c = q411(e.mode);
    for (bool fast : {false, true}) {
      std::vector<float> master = {0.3f, -0.2f, 0.1f, 0.25f}, w_eff(n), buf(n, 1.0f);
      fault_prepare_weights(master.data(), w_eff.data(), keep.data(), am.data(), om.data(), n, c);
      CHECK(w_eff[0] == e.sa1_b12);
      CHECK(w_eff[1] == e.sa1_b15);
      for (int s = 0; s < 20; ++s) {
        const std::vector<float> g = {1.0f, -1.0f, 0.5f, 0.1f};
        (fast ? fault_sgd_update : fault_sgd_update_ref)(master.data(), w_eff.data(), g.data(), buf.data(), keep.data(),
                                                          am.data(), om.data(), n, c, s == 0);
      }
      CHECK(master[0] == 0.0f);
      CHECK(master[1] == 0.0f);
      CHECK(master[2] == 0.0f);
      CHECK(w_eff[0] == e.sa1_b12);
      CHECK(w_eff[1] == e.sa1_b15);
      CHECK(w_eff[2] == 0.0f);  // stuck at 0 on a zero word changes nothing
      CHECK(buf[0] == 0.0f);
      CHECK(buf[1] == 0.0f);
      CHECK(w_eff[3] != 0.0f);
    }
  }
  // the report counts them
  const PrunedCellFaults pc = count_pruned_cell_faults(keep.data(), am.data(), om.data(), n, WeightFormat{});
  CHECK(pc.pruned == 3);
  CHECK(pc.faulty == 3);
  CHECK(pc.stuck_at_1 == 2);
  CHECK(pc.nonzero == 2);
  CHECK(pc.max_abs == 16.0);
  CHECK(pc.sum_abs == 18.0);
}

TEST_CASE("target=nonzero on a pruned model faults only remaining weights; training keeps pruned ones 0",
          "[pruning][faults][train]") {
  auto model = lenet();
  PruneMasks masks = dense_masks(*model);
  oneshot_global(*model, masks, 0.1);
  apply_masks(*model, masks);
  const std::vector<FaultSpec> specs = {parse_fault_spec("layer=all,bit=random,stuck=mix:1:1,rate=0.3,target=nonzero")};
  for (FaultMode mode : {FaultMode::KeepBit, FaultMode::KeepWeight, FaultMode::Clip}) {
    CAPTURE(fault_mode_name(mode));
    auto m = lenet();
    for (size_t i = 0; i < model->named_state().size(); ++i)
      Tensor(m->named_state()[i].second).copy_(model->named_state()[i].second);
    FaultAwareSgd opt(*m, {0.05f, 0.9f, 0.0f, 5e-4f, false}, parse_weight_format("q4.11"), specs, mode);
    int64_t faulty_kept = 0, kept = 0;
    for (const LayerMask& lm : masks) {
      opt.set_prune_mask(lm.layer, lm.keep);
      for (const FaultAwareSgd::Layer& l : opt.layers())
        if (l.name == lm.layer)
          for (int64_t i = 0; i < lm.total(); ++i) {
            const bool faulty = l.map.and_mask[i] != 0xFFFF || l.map.or_mask[i] != 0;
            if (!lm.keep[i]) REQUIRE_FALSE(faulty);
            kept += lm.keep[i];
            faulty_kept += faulty;
          }
    }
    CHECK(std::abs(static_cast<double>(faulty_kept) / kept - 0.3) < 0.03);  // 6147 draws: sd 0.006
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int s = 0; s < 30; ++s) {
      opt.zero_grad();
      for (const auto& [name, p] : m->named_parameters()) {
        Tensor g = Tensor::empty(p.shape());
        for (int64_t i = 0; i < g.numel(); ++i) g.data<float>()[i] = u(rng);
        Tensor(p).set_grad(g);
      }
      opt.step();
    }
    const std::vector<float> w = all_weights(*m);
    const std::vector<uint8_t> keep = all_keep(masks);
    for (size_t i = 0; i < w.size(); ++i)
      if (!keep[i]) REQUIRE(w[i] == 0.0f);
  }
}

namespace {
template <typename T>
Tensor to_gpu(const std::vector<T>& v, DType dtype) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, dtype);
  std::memcpy(t.raw_data(), v.data(), v.size() * sizeof(T));
  return t.to(Device::CUDA);
}
}  // namespace

TEST_CASE("CUDA fused update: pruned weights exactly 0 after many steps, equal to the CPU", "[pruning][cuda]") {
  if (!have_gpu("CUDA masked update")) return;
  const int n = 4099;
  for (FaultMode mode : {FaultMode::None, FaultMode::KeepBit, FaultMode::KeepWeight, FaultMode::Zero, FaultMode::Clip}) {
    CAPTURE(fault_mode_name(mode));
    const FaultSgdConfig c = q411(mode);
    std::mt19937 rng(21);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> master(n), w_eff(n), buf(n);
    std::vector<uint16_t> am(n, 0xFFFF), om(n, 0);
    std::vector<uint8_t> keep(n);
    for (int i = 0; i < n; ++i) {
      master[i] = u(rng);
      keep[i] = i % 3 != 2;
      if (i % 7 == 0) om[i] = static_cast<uint16_t>(1u << (rng() % 16));  // also on pruned cells
    }
    fault_prepare_weights(master.data(), w_eff.data(), keep.data(), am.data(), om.data(), n, c);
    Tensor gm = to_gpu(master, DType::F32), ge = to_gpu(w_eff, DType::F32), gb = to_gpu(buf, DType::F32),
           gk = to_gpu(keep, DType::U8), ga = to_gpu(am, DType::I16), go = to_gpu(om, DType::I16);
    for (int s = 0; s < 100; ++s) {
      std::vector<float> g(n);
      for (float& x : g) x = u(rng);
      Tensor gg = to_gpu(g, DType::F32);
      fault_sgd_update_ref(master.data(), w_eff.data(), g.data(), buf.data(), keep.data(), am.data(), om.data(), n, c,
                           s == 0);
      fault_sgd_update_cuda(gm.data<float>(), ge.data<float>(), gg.data<float>(), gb.data<float>(), gk.data<uint8_t>(),
                            reinterpret_cast<const uint16_t*>(ga.raw_data()),
                            reinterpret_cast<const uint16_t*>(go.raw_data()), n, c, s == 0);
    }
    const std::vector<float> hm = gm.to(Device::CPU).to_vector(), he = ge.to(Device::CPU).to_vector(),
                             hb = gb.to(Device::CPU).to_vector();
    for (int i = 0; i < n; ++i) {
      REQUIRE(std::memcmp(&hm[i], &master[i], 4) == 0);
      REQUIRE(std::memcmp(&he[i], &w_eff[i], 4) == 0);
      REQUIRE(std::memcmp(&hb[i], &buf[i], 4) == 0);
      if (!keep[i]) {
        REQUIRE(hm[i] == 0.0f);
        REQUIRE(hb[i] == 0.0f);
        if (om[i] == 0) REQUIRE(he[i] == 0.0f);
      }
    }
  }
}

TEST_CASE("MaskedSgd on the GPU: pruned weights exactly 0, every value equal to the CPU optimizer", "[pruning][cuda]") {
  if (!have_gpu("MaskedSgd on the GPU")) return;
  // The same hand-set gradients into a CPU and a GPU optimizer (momentum, Nesterov, weight decay),
  // 30 steps, new masks (set_masks) after 15; then the state round trip.
  auto cpu_model = lenet(5), gpu_model = lenet(5);
  PruneMasks masks = dense_masks(*cpu_model);
  std::mt19937 rng(31);
  for (LayerMask& m : masks)
    for (uint8_t& k : m.keep) k = rng() % 4 != 0;
  const SgdOptions o{0.05f, 0.9f, 0.0f, 5e-4f, true};
  MaskedSgd cpu_opt(*cpu_model, o, masks), gpu_opt(*gpu_model, o, masks);
  gpu_model->to(Device::CUDA);
  const auto pc = cpu_model->named_parameters(), pg = gpu_model->named_parameters();
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int step = 0; step < 30; ++step) {
    if (step == 15) {  // prune further: a quarter of the kept weights
      for (LayerMask& m : masks)
        for (uint8_t& k : m.keep) k = k && rng() % 4 != 0;
      cpu_opt.set_masks(masks);
      gpu_opt.set_masks(masks);
    }
    for (size_t i = 0; i < pc.size(); ++i) {
      std::vector<float> g(static_cast<size_t>(pc[i].second.numel()));
      for (float& x : g) x = u(rng);
      Tensor gt = Tensor::from_vector(g, pc[i].second.shape());
      Tensor a = pc[i].second, b = pg[i].second;
      a.set_grad(gt);
      b.set_grad(gt.to(Device::CUDA));
    }
    cpu_opt.step();
    gpu_opt.step();
  }
  for (size_t i = 0; i < pc.size(); ++i) {
    INFO(pc[i].first);
    const std::vector<float> a = pc[i].second.to_vector(), b = pg[i].second.to(Device::CPU).to_vector();
    REQUIRE(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
  const std::vector<float> w = all_weights(*cpu_model);
  const std::vector<uint8_t> keep = all_keep(masks);
  for (size_t i = 0; i < w.size(); ++i)
    if (!keep[i]) REQUIRE(w[i] == 0.0f);
  const OptimizerState sc = cpu_opt.state(), sg = gpu_opt.state();
  REQUIRE(sc.size() == sg.size());
  for (size_t i = 0; i < sc.size(); ++i) {
    INFO(sc[i].first);
    CHECK(sg[i].second.device() == Device::CPU);
    CHECK(std::memcmp(sc[i].second.raw_data(), sg[i].second.raw_data(), sc[i].second.nbytes()) == 0);
  }
  // apply_masks on GPU weights: a fresh model moved to the GPU, masked there, equals the CPU one.
  auto a = lenet(8), b = lenet(8);
  b->to(Device::CUDA);
  apply_masks(*a, masks);
  apply_masks(*b, masks);
  const auto qa = a->named_parameters(), qb = b->named_parameters();
  for (size_t i = 0; i < qa.size(); ++i) CHECK(qa[i].second.to_vector() == qb[i].second.to(Device::CPU).to_vector());
}
