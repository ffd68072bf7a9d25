// The sweep's GPU pieces equal the CPU bit for bit or within float rounding: a point's faulted
// layer (fault_layer) decoded on the GPU, its layer delta (add_weight_changes, stacked and packed),
// the channel deltas, and the scores of stacked points (block_scores).
// SKIPs (with a warning) when built without CUDA or when no GPU is present.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "sweep/block_scores.h"
#include "sweep/channel_delta.h"
#include "faults/fault_map.h"
#include "faults/fault_spec.h"
#include "sweep/sweep_point.h"
#include "sweep/weight_changes_op.h"
#include "faults/weight_codec.h"
#include "base/weight_format.h"
#include "base/device.h"
#include "framework/ops.h"
#include "framework/random.h"
#include "framework/tensor.h"
#include "tests/gpu_available.h"
#include "tests/random_tensor.h"

using namespace stuckat;
using namespace stuckat::sweep;

TEST_CASE("CUDA fault_layer (a sweep point's weights) equals the CPU bit for bit", "[faults][sweep][cuda]") {
  if (!have_gpu("CUDA fault_layer")) return;
  const int64_t n = 300007;  // not a multiple of the block size
  Tensor clean = Tensor::empty({n});
  RandomStream rng(8, 8);
  for (int64_t i = 0; i < n; ++i)
    clean.data<float>()[i] = rng.next_uniform() < 0.3f ? 0.0f : rng.next_uniform(-2.0f, 2.0f);
  for (const char* format_name : {"q4.11", "maxabs", "signmag", "fp16"})
    for (const char* spec_text : {"bit=14,stuck=1,rate=0.3,seed=2", "bit=random,stuck=mix:1:1,rate=0.2,seed=4,target=nonzero"}) {
      CAPTURE(format_name, spec_text);
      const WeightFormat format = resolve_layer_format(parse_weight_format(format_name), clean.data<float>(), n);
      Tensor words = Tensor::empty({n}, DType::I16);
      encode_weights(clean.data<float>(), static_cast<uint16_t*>(words.raw_data()), n, format);
      const FaultDraw d = make_fault_draw(parse_fault_spec(spec_text), "conv2");
      Tensor want = Tensor::empty({n});
      const PointFaultCounts cpu = fault_layer(d, words, clean, format, want);
      Tensor got = Tensor::empty({n}, DType::F32, Device::CUDA);
      const PointFaultCounts gpu = fault_layer(d, words.to(Device::CUDA), clean.to(Device::CUDA), format, got);
      CHECK(gpu.faulty == cpu.faulty);
      CHECK(gpu.changed == cpu.changed);
      CHECK(cpu.changed > 0);
      const Tensor back = got.to(Device::CPU);
      CHECK(std::memcmp(back.raw_data(), want.raw_data(), want.nbytes()) == 0);  // NaN payloads included
      // The changed-weight bits a sweep pass reads back (one warp ballot per 32 weights; the
      // last entry partly past n).
      const int64_t bit_words = (n + 31) / 32;
      Tensor bits_cpu = Tensor::empty({bit_words}, DType::I32), counts_cpu = Tensor::empty({2}, DType::I64);
      Tensor bits_gpu = Tensor::zeros({bit_words}, DType::I32, Device::CUDA);
      Tensor counts_gpu = Tensor::empty({2}, DType::I64, Device::CUDA);
      fault_layer_into(d, words, clean, format, want, counts_cpu, bits_cpu);
      fault_layer_into(d, words.to(Device::CUDA), clean.to(Device::CUDA), format, got, counts_gpu, bits_gpu);
      const Tensor bits_back = bits_gpu.to(Device::CPU);
      CHECK(std::memcmp(bits_back.raw_data(), bits_cpu.raw_data(), bits_cpu.nbytes()) == 0);
    }
}

TEST_CASE("CUDA fault_layers_into (a chunk's points in one launch) equals the CPU bit for bit", "[faults][sweep][cuda]") {
  if (!have_gpu("CUDA fault_layers_into")) return;
  // 70 points (past the 64 one launch takes) of assorted bits, stuck values, rates, seeds and
  // targets on a layer of 1000 weights (the last bit word partly past n): every row of weights,
  // counts and changed bits must equal the CPU's, which runs fault_layer_into point by point.
  const int64_t n = 1000, m = 70, bit_words = (n + 31) / 32;
  RandomStream rng(9, 9);
  Tensor clean = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) clean.data<float>()[i] = rng.next_uniform() < 0.3f ? 0.0f : rng.next_uniform(-2.0f, 2.0f);
  const WeightFormat format = resolve_layer_format(parse_weight_format("q4.11"), clean.data<float>(), n);
  Tensor words = Tensor::empty({n}, DType::I16);
  encode_weights(clean.data<float>(), static_cast<uint16_t*>(words.raw_data()), n, format);
  std::vector<FaultDraw> draws;
  for (int64_t p = 0; p < m; ++p) {
    const std::string spec = "bit=" + (p % 9 == 0 ? std::string("random") : std::to_string(p % 16)) +
                             ",stuck=" + std::to_string(p % 2) + ",rate=" + (p % 3 == 0 ? "0.01" : "0.2") +
                             ",seed=" + std::to_string(p) + (p % 5 == 0 ? ",target=nonzero" : "");
    draws.push_back(make_fault_draw(parse_fault_spec(spec), "fc1"));
  }
  Tensor out_cpu = Tensor::empty({m, n}), counts_cpu = Tensor::empty({m, 2}, DType::I64);
  Tensor bits_cpu = Tensor::empty({m, bit_words}, DType::I32);
  fault_layers_into(draws, words, clean, format, out_cpu, counts_cpu, bits_cpu);
  Tensor out_gpu = Tensor::empty({m, n}, DType::F32, Device::CUDA), counts_gpu = Tensor::empty({m, 2}, DType::I64, Device::CUDA);
  Tensor bits_gpu = Tensor::zeros({m, bit_words}, DType::I32, Device::CUDA);
  fault_layers_into(draws, words.to(Device::CUDA), clean.to(Device::CUDA), format, out_gpu, counts_gpu, bits_gpu);
  const Tensor out_back = out_gpu.to(Device::CPU), counts_back = counts_gpu.to(Device::CPU), bits_back = bits_gpu.to(Device::CPU);
  CHECK(std::memcmp(out_back.raw_data(), out_cpu.raw_data(), out_cpu.nbytes()) == 0);
  CHECK(std::memcmp(counts_back.raw_data(), counts_cpu.raw_data(), counts_cpu.nbytes()) == 0);
  CHECK(std::memcmp(bits_back.raw_data(), bits_cpu.raw_data(), bits_cpu.nbytes()) == 0);
  int64_t changed = 0;
  for (int64_t p = 0; p < m; ++p) changed += counts_cpu.data<int64_t>()[2 * p + 1] > 0 ? 1 : 0;
  CHECK(changed > m / 2);
}

TEST_CASE("CUDA block_scores (stacked sweep points) equals the CPU", "[faults][sweep][cuda]") {
  if (!have_gpu("CUDA block_scores")) return;
  RandomStream rng(32, 32);
  const int64_t blocks = 5, n = 1001, k = 10;  // n not a multiple of the block size
  Tensor logits = Tensor::empty({blocks * n, k}), labels = Tensor::empty({n}, DType::I32);
  for (int64_t i = 0; i < logits.numel(); ++i) logits.data<float>()[i] = rng.next_uniform(-4.0f, 4.0f);
  for (int64_t r = 0; r < n; ++r) labels.data<int32_t>()[r] = static_cast<int32_t>((r * 7) % k);
  for (int64_t j = 0; j < k; ++j) logits.data<float>()[(n + 9) * k + j] = 0.5f;  // a tie in block 1
  logits.data<float>()[(4 * n + 3) * k] = NAN;                                 // block 4: NaN
  const std::vector<BlockScore> cpu = block_scores(logits, labels, blocks);
  const std::vector<BlockScore> gpu = block_scores(logits.to(Device::CUDA), labels.to(Device::CUDA), blocks);
  for (int64_t p = 0; p < blocks; ++p) {
    CAPTURE(p);
    CHECK(gpu[static_cast<size_t>(p)].correct == cpu[static_cast<size_t>(p)].correct);
    if (p == 4) {
      CHECK(!std::isfinite(gpu[4].loss_sum));
    } else {
      // float sums of 1001 row losses in another order: within 1e-5 relative
      CHECK(gpu[static_cast<size_t>(p)].loss_sum == Approx(cpu[static_cast<size_t>(p)].loss_sum).epsilon(1e-5));
    }
  }
}

TEST_CASE("CUDA add_weight_changes (a sweep point's layer delta) equals the CPU", "[faults][sweep][cuda]") {
  if (!have_gpu("CUDA add_weight_changes")) return;
  RandomStream rng(33, 33);
  auto random = [&](const Shape& shape) { return random_tensor(shape, rng); };
  // Changes: a few scattered, two in one output channel, the first and the last weight.
  auto some_changes = [&](int64_t weights) {
    std::vector<WeightChange> c;
    for (int64_t i = 0; i < weights; i += 1 + static_cast<int64_t>(rng.next_below(97)))
      c.push_back({i, rng.next_uniform(-0.5f, 0.5f)});
    if (c.back().index != weights - 1) c.push_back({weights - 1, 0.25f});  // indices strictly ascend
    return c;
  };
  // Each output gets at most a few dozen products added in the same ascending order on both
  // devices; only FMA contraction may differ: within 1e-6 of the output's scale.
  struct ConvCase {
    int64_t n, in, h, w, out, k, stride, pad;
  };
  for (const ConvCase& c : {ConvCase{3, 4, 9, 11, 5, 3, 1, 1}, ConvCase{2, 6, 14, 14, 16, 5, 1, 0},
                            ConvCase{2, 3, 10, 9, 4, 3, 2, 2}}) {
    const Tensor x = random({c.n, c.in, c.h, c.w});
    const int64_t ho = (c.h + 2 * c.pad - c.k) / c.stride + 1, wo = (c.w + 2 * c.pad - c.k) / c.stride + 1;
    const Tensor y = random({c.n, c.out, ho, wo});
    const std::vector<WeightChange> changes = some_changes(c.out * c.in * c.k * c.k);
    const LayerGeometry g{true, c.k, c.k, c.stride, c.pad};
    Tensor y_gpu = y.to(Device::CUDA);
    add_weight_changes(x.to(Device::CUDA), y_gpu, g, changes);
    Tensor y_cpu = y.clone();
    add_weight_changes(x, y_cpu, g, changes);
    const std::vector<float> got = y_gpu.to_vector(), want = y_cpu.to_vector(), before = y.to_vector();
    int64_t moved = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      INFO("conv output " << i << ": got " << got[i] << " want " << want[i]);
      REQUIRE(std::abs(got[i] - want[i]) <= 1e-6 * (1.0 + std::abs(want[i])));
      moved += want[i] != before[i] ? 1 : 0;
    }
    CHECK(moved > 0);
  }
  const Tensor x = random({33, 70}), y = random({33, 19});
  const std::vector<WeightChange> changes = some_changes(19 * 70);
  Tensor y_gpu = y.to(Device::CUDA);
  add_weight_changes(x.to(Device::CUDA), y_gpu, LayerGeometry{}, changes);
  Tensor y_cpu = y.clone();
  add_weight_changes(x, y_cpu, LayerGeometry{}, changes);
  const std::vector<float> got = y_gpu.to_vector(), want = y_cpu.to_vector();
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("linear output " << i << ": got " << got[i] << " want " << want[i]);
    REQUIRE(std::abs(got[i] - want[i]) <= 1e-6 * (1.0 + std::abs(want[i])));
  }
}

TEST_CASE("CUDA add_weight_changes from lists packed in one upload equals each list on the CPU", "[faults][sweep][cuda]") {
  if (!have_gpu("CUDA pack_weight_changes")) return;
  // The sweep packs every point of a pass at once: lists of different lengths (one empty) and
  // channel counts (a channel-path point's changes index its selected channels only) share one
  // upload; each must act as if uploaded alone. Tolerance as in the test above.
  RandomStream rng(34, 34);
  const int64_t n = 2, in = 3, h = 8, w = 8, k = 3;
  Tensor xr = Tensor::empty({n, in, h, w});
  for (int64_t i = 0; i < xr.numel(); ++i) xr.data<float>()[i] = rng.next_uniform(-1.0f, 1.0f);
  const LayerGeometry g{true, k, k, 1, 1};
  const int64_t per_out = in * k * k;
  std::vector<PackedChanges> lists(4);
  const int64_t outs[4] = {6, 2, 6, 1};
  for (size_t l = 0; l < lists.size(); ++l) {
    lists[l].out = outs[l];
    lists[l].per_out = per_out;
    lists[l].geometry = g;
    if (l == 2) continue;  // empty
    for (int64_t i = static_cast<int64_t>(l); i < outs[l] * per_out; i += 3 + static_cast<int64_t>(rng.next_below(11)))
      lists[l].list.push_back({i, rng.next_uniform(-0.5f, 0.5f)});
  }
  std::vector<PackedChanges> on_gpu = lists;
  pack_weight_changes(on_gpu, Device::CUDA);
  const Tensor x_gpu = xr.to(Device::CUDA);
  for (size_t l = 0; l < lists.size(); ++l) {
    Tensor y = Tensor::zeros({n, outs[l], h, w});
    for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] = rng.next_uniform(-1.0f, 1.0f);
    Tensor y_gpu = y.to(Device::CUDA);
    add_weight_changes(x_gpu, y_gpu, g, on_gpu[l]);
    add_weight_changes(xr, y, g, lists[l].list);
    const std::vector<float> got = y_gpu.to_vector(), want = y.to_vector();
    for (size_t i = 0; i < want.size(); ++i) {
      INFO("list " << l << " output " << i << ": got " << got[i] << " want " << want[i]);
      REQUIRE(std::abs(got[i] - want[i]) <= 1e-6 * (1.0 + std::abs(want[i])));
    }
  }
  // A list packed for another channel count is refused.
  Tensor y3 = Tensor::zeros({n, 3, h, w}, DType::F32, Device::CUDA);
  CHECK_THROWS(add_weight_changes(x_gpu, y3, g, on_gpu[0]));
}

namespace {

// Stacked blocks for add_weight_changes_stacked: 35 points (past the 32 one GPU launch takes) of
// a conv (geometry g) or linear layer with `out` channels of per_out weights; every fifth a null
// entry (its block must keep what it held), every seventh an empty list (the clean output alone).
struct StackedCase {
  std::vector<PackedChanges> lists;
  std::vector<const PackedChanges*> entries;
};
StackedCase stacked_case(RandomStream& rng, const LayerGeometry& g, int64_t out, int64_t per_out) {
  StackedCase c;
  c.lists.resize(35);
  for (size_t p = 0; p < c.lists.size(); ++p) {
    PackedChanges& l = c.lists[p];
    l.out = out, l.per_out = per_out, l.geometry = g;
    if (p % 7 != 3)
      for (int64_t i = static_cast<int64_t>(p % 5); i < out * per_out; i += 1 + static_cast<int64_t>(rng.next_below(40)))
        l.list.push_back({i, rng.next_uniform(-0.5f, 0.5f)});
  }
  return c;
}
void point_entries(StackedCase& c) {
  c.entries.clear();
  for (size_t p = 0; p < c.lists.size(); ++p) c.entries.push_back(p % 5 == 1 ? nullptr : &c.lists[p]);
}

// The reference: block p = clean, then add_weight_changes with list p (the CPU loops).
std::vector<float> stacked_reference(const Tensor& x, const Tensor& clean, const Tensor& y_before, const LayerGeometry& g,
                                     const StackedCase& c) {
  Tensor y = y_before.clone();
  const int64_t n = x.size(0);
  for (size_t p = 0; p < c.lists.size(); ++p) {
    if (p % 5 == 1) continue;
    Tensor block = slice_rows(y, static_cast<int64_t>(p) * n, static_cast<int64_t>(p + 1) * n);
    block.copy_(clean);
    add_weight_changes(x, block, g, c.lists[p].list);
  }
  return y.to_vector();
}

}  // namespace

TEST_CASE("add_weight_changes_stacked fills each block with the clean output plus its list", "[faults][sweep]") {
  RandomStream rng(36, 36);
  const LayerGeometry g{true, 3, 3, 1, 1};
  const Tensor x = random_tensor({2, 3, 6, 5}, rng), clean = random_tensor({2, 4, 6, 5}, rng);
  StackedCase c = stacked_case(rng, g, 4, 27);
  point_entries(c);
  const Tensor y_before = random_tensor({35 * 2, 4, 6, 5}, rng);
  Tensor y = y_before.clone();
  add_weight_changes_stacked(x, clean, y, g, c.entries);
  const std::vector<float> got = y.to_vector(), want = stacked_reference(x, clean, y_before, g, c);
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    REQUIRE(std::memcmp(&got[i], &want[i], sizeof(float)) == 0);  // the same loops: bit for bit
  }
  // A block count that does not match y is refused.
  c.entries.pop_back();
  CHECK_THROWS(add_weight_changes_stacked(x, clean, y, g, c.entries));
}

TEST_CASE("CUDA add_weight_changes_stacked equals the CPU block by block", "[faults][sweep][cuda]") {
  if (!have_gpu("CUDA add_weight_changes_stacked")) return;
  // Per element the same body as add_weight_changes (conv_change_at / linear_change_at) on the
  // clean value: only FMA contraction may differ, 1e-6 of the O(1) values.
  RandomStream rng(37, 37);
  for (const bool conv : {true, false}) {
    CAPTURE(conv);
    const LayerGeometry g = conv ? LayerGeometry{true, 5, 5, 1, 2} : LayerGeometry{};
    const Tensor x = conv ? random_tensor({3, 2, 9, 7}, rng) : random_tensor({5, 30}, rng);
    const Tensor clean = conv ? random_tensor({3, 6, 9, 7}, rng) : random_tensor({5, 12}, rng);
    StackedCase c = stacked_case(rng, g, clean.size(1), conv ? 2 * 25 : 30);
    pack_weight_changes(c.lists, Device::CUDA);  // one upload, as the sweep does
    point_entries(c);
    Shape ys = clean.shape();
    ys[0] *= 35;
    const Tensor y_before = random_tensor(ys, rng);
    Tensor y_gpu = y_before.to(Device::CUDA);
    add_weight_changes_stacked(x.to(Device::CUDA), clean.to(Device::CUDA), y_gpu, g, c.entries);
    const std::vector<float> got = y_gpu.to_vector(), want = stacked_reference(x, clean, y_before, g, c);
    int64_t moved = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      INFO("element " << i << ": got " << got[i] << " want " << want[i]);
      REQUIRE(std::abs(got[i] - want[i]) <= 1e-6 * (1.0 + std::abs(want[i])));
      moved += want[i] != y_before.data<float>()[i] ? 1 : 0;
    }
    CHECK(moved > 0);
  }
}

TEST_CASE("CUDA relu_pool_channel_delta_stacked equals the CPU", "[faults][sweep][cuda]") {
  if (!have_gpu("CUDA relu_pool_channel_delta_stacked")) return;
  // 35 points (past the 32 one launch takes) on LeNet-5's conv2 stage shape (6 -> 16 channels,
  // 5x5, then 2x2 pooling): every fifth null, every seventh without changes, the others changing
  // a few channels. Same per-element body on both devices: FMA contraction only (1e-6).
  RandomStream rng(38, 38);
  const int64_t n = 4, in = 6, out = 16, k = 5;
  const Tensor x = random_tensor({n, in, 12, 12}, rng), clean_out = random_tensor({n, out, 8, 8}, rng);
  const Tensor ref = max_pool2d(relu(clean_out), 2, 2);
  const LayerGeometry g{true, k, k, 1, 0};
  std::vector<PackedChanges> lists(35);
  for (size_t p = 0; p < lists.size(); ++p) {
    PackedChanges& l = lists[p];
    l.out = out, l.per_out = in * k * k, l.geometry = g;
    if (p % 7 != 3)
      for (int64_t i = static_cast<int64_t>(p); i < out * l.per_out; i += 1 + static_cast<int64_t>(rng.next_below(300)))
        l.list.push_back({i, rng.next_uniform(-0.5f, 0.5f)});
  }
  std::vector<PackedChanges> on_gpu = lists;
  pack_weight_changes(on_gpu, Device::CUDA);
  pack_weight_changes(lists, Device::CPU);
  std::vector<const PackedChanges*> cpu_entries, gpu_entries;
  for (size_t p = 0; p < lists.size(); ++p) {
    cpu_entries.push_back(p % 5 == 1 ? nullptr : &lists[p]);
    gpu_entries.push_back(p % 5 == 1 ? nullptr : &on_gpu[p]);
  }
  const std::vector<float> want = relu_pool_channel_delta_stacked(x, clean_out, g, cpu_entries, 2, 2, false, ref).to_vector();
  const std::vector<float> got = relu_pool_channel_delta_stacked(x.to(Device::CUDA), clean_out.to(Device::CUDA), g,
                                                                 gpu_entries, 2, 2, false, ref.to(Device::CUDA))
                                     .to_vector();
  REQUIRE(got.size() == want.size());
  int64_t nonzero = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << " want " << want[i]);
    REQUIRE(std::abs(got[i] - want[i]) <= 1e-6 * (1.0 + std::abs(want[i])));
    nonzero += want[i] != 0.0f ? 1 : 0;
  }
  CHECK(nonzero > 0);
}

TEST_CASE("CUDA relu_pool_channel_delta (a channel-path point's first half) equals the CPU", "[faults][sweep][cuda]") {
  if (!have_gpu("CUDA relu_pool_channel_delta")) return;
  // The same per-element body on both devices; only FMA contraction may differ (1e-6 of O(1)
  // values). Cases: LeNet-5's conv1 shape with pool then ReLU, a strided conv with ReLU then a
  // 3x3 pool, a linear layer, and 150 of 160 channels (more than travel in the kernel's
  // arguments: the list goes through device memory).
  RandomStream rng(35, 35);
  auto random = [&](const Shape& shape) { return random_tensor(shape, rng); };
  struct Case {
    bool conv;
    int64_t n, in, h, c, k, stride, pad, pool_k, pool_stride, picked;
    bool pool_first;
  };
  for (const Case& c : {Case{true, 5, 1, 28, 6, 5, 1, 2, 2, 2, 3, true}, Case{true, 2, 3, 13, 8, 3, 2, 1, 3, 2, 5, false},
                        Case{false, 7, 40, 1, 30, 1, 1, 0, 0, 0, 11, false},
                        Case{true, 1, 2, 6, 160, 3, 1, 1, 2, 2, 150, true}}) {
    CAPTURE(c.conv, c.c, c.picked, c.pool_first);
    const int64_t ho = c.conv ? (c.h + 2 * c.pad - c.k) / c.stride + 1 : 1;
    const Tensor x = c.conv ? random({c.n, c.in, c.h, c.h}) : random({c.n, c.in});
    const Tensor clean_out = c.conv ? random({c.n, c.c, ho, ho}) : random({c.n, c.c});
    const int64_t ph = c.pool_k > 0 ? (ho - c.pool_k) / c.pool_stride + 1 : ho;
    const Tensor ref = c.conv ? random({c.n, c.c, ph, ph}) : random({c.n, c.c});
    std::vector<int64_t> channels;
    for (int64_t j = 0; j < c.picked; ++j) channels.push_back((j * 7 + 3) % c.c);
    PackedChanges changes;
    changes.geometry = LayerGeometry{c.conv, c.k, c.k, c.stride, c.pad};
    changes.out = c.picked;
    changes.per_out = c.in * (c.conv ? c.k * c.k : 1);
    for (int64_t i = 0; i < c.picked * changes.per_out; i += 1 + static_cast<int64_t>(rng.next_below(9)))
      changes.list.push_back({i, rng.next_uniform(-0.5f, 0.5f)});
    std::vector<PackedChanges> on_cpu = {changes}, on_gpu = {changes};
    pack_weight_changes(on_cpu, Device::CPU);
    pack_weight_changes(on_gpu, Device::CUDA);
    const Tensor want = relu_pool_channel_delta(x, clean_out, changes.geometry, on_cpu[0], channels, c.pool_k,
                                                c.pool_stride, c.pool_first, ref);
    const Tensor got = relu_pool_channel_delta(x.to(Device::CUDA), clean_out.to(Device::CUDA), changes.geometry,
                                               on_gpu[0], channels, c.pool_k, c.pool_stride, c.pool_first,
                                               ref.to(Device::CUDA));
    REQUIRE(got.shape() == want.shape());
    const std::vector<float> a = got.to_vector(), b = want.to_vector();
    for (size_t i = 0; i < b.size(); ++i) {
      INFO("element " << i << ": GPU " << a[i] << " CPU " << b[i]);
      REQUIRE(std::abs(a[i] - b[i]) <= 1e-6 * (1.0 + std::abs(b[i])));
    }
  }
}
