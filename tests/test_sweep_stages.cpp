// The sweep's model stages and per-layer pieces: staged forward == forward, a stage's channel
// subset, the ReLU / pool chain a stage reports, stacked multi-weight layers, block scores, and
// one faulted layer == FaultInjection bit for bit.
#include "sweep_test_fixtures.h"

using namespace stuckat;
using namespace stuckat::sweep;
using namespace stuckat::sweep::test;

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
