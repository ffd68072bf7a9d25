// The sweep's sparse corrections: weight-change updates, their fused ReLU / pool passes and
// channel deltas equal the chains of ops they replace; the GPU thread bodies run on the CPU.
#include "sweep_test_fixtures.h"

using namespace stuckat;
using namespace stuckat::sweep;
using namespace stuckat::sweep::test;

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
