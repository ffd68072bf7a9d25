// Batches split over CPU threads (framework/train/thread_replicas.h): the summed gradient equals
// the whole batch's, for even, uneven and nearly empty splits, on a built-in and a graph model,
// the step after it sees that sum, and a batch repeated sums to the same bits; an epoch trains
// like the unsplit one; a non-finite loss stops it before any step; and the rule that picks it.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "framework/ops.h"
#include "framework/parallel.h"
#include "framework/random.h"
#include "framework/train/thread_replicas.h"
#include "framework/train/trainer.h"
#include "models/graph_model.h"
#include "models/model_zoo.h"

using namespace stuckat;

namespace {

Dataset synthetic_train(int64_t n, uint64_t seed) {
  DataOptions o;
  o.name = "synthetic";
  o.synthetic_train = n;
  o.synthetic_test = 16;
  o.seed = seed;
  return load_data(o).train;
}

std::vector<int64_t> shuffled(int64_t n) { return random_permutation(n, 5, 77); }

// The reference: one forward and backward over the whole batch on one thread.
struct Reference {
  std::vector<std::vector<float>> grads;
  double loss_sum = 0;
  int64_t correct = 0;
};
Reference whole_batch(Module& model, const Dataset& data, const std::vector<int64_t>& order, int64_t start, int64_t count) {
  for (Tensor p : model.parameters()) p.set_grad(Tensor());
  Tensor images, labels;
  gather_batch(data, order, start, count, images, labels);
  Tensor logits = model.forward(images);
  Tensor loss = cross_entropy(logits, labels);
  loss.backward();
  Reference r;
  r.loss_sum = static_cast<double>(loss.item()) * static_cast<double>(count);
  r.correct = count_correct(logits.detach(), labels);
  for (const Tensor& p : model.parameters()) r.grads.push_back(p.grad().to_vector());
  return r;
}

void require_close(const Reference& want, Module& model, const ThreadReplicas::BatchResult& got) {
  REQUIRE(got.finite);
  CHECK(got.loss_sum == Approx(want.loss_sum).epsilon(1e-5));
  CHECK(got.correct == want.correct);
  const std::vector<Tensor> params = model.parameters();
  REQUIRE(params.size() == want.grads.size());
  for (size_t i = 0; i < params.size(); ++i) {
    REQUIRE(params[i].grad().defined());
    const std::vector<float> g = params[i].grad().to_vector();
    float scale = 0;
    for (float v : want.grads[i]) scale = std::max(scale, std::abs(v));
    for (size_t k = 0; k < g.size(); ++k) REQUIRE(std::abs(g[k] - want.grads[i][k]) <= 1e-5f * scale + 1e-7f);
  }
}

// x (n, 1, 6, 6) -> Conv 3x3 (4 channels) -> Relu -> Flatten -> Gemm (10 classes).
GraphSpec small_graph(bool batch_norm) {
  GraphSpec spec;
  spec.inputs = {{"x", {-1, 1, 6, 6}, DType::F32}};
  auto filled = [](const Shape& shape, float f) {
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 0.2f * std::sin(f * static_cast<float>(i + 1));
    return t;
  };
  spec.constants = {{"conv.weight", filled({4, 1, 3, 3}, 1.3f)}, {"conv.bias", filled({4}, 0.7f)},
                    {"fc.weight", filled({10, 64}, 0.9f)},      {"fc.bias", filled({10}, 2.1f)}};
  std::string conv_out = "c";
  spec.nodes.push_back({"Conv", "conv", {"x", "conv.weight", "conv.bias"}, {"c"}, nlohmann::json::object()});
  if (batch_norm) {
    spec.constants.push_back({"bn.scale", Tensor::full({4}, 1.0f)});
    spec.constants.push_back({"bn.shift", Tensor::full({4}, 0.0f)});
    spec.constants.push_back({"bn.mean", Tensor::full({4}, 0.0f)});
    spec.constants.push_back({"bn.var", Tensor::full({4}, 1.0f)});
    spec.nodes.push_back({"BatchNormalization", "bn", {"c", "bn.scale", "bn.shift", "bn.mean", "bn.var"}, {"n"},
                          nlohmann::json::object()});
    conv_out = "n";
  }
  spec.nodes.push_back({"Relu", "relu", {conv_out}, {"r"}, nlohmann::json::object()});
  spec.nodes.push_back({"Flatten", "flat", {"r"}, {"f"}, nlohmann::json::object()});
  spec.nodes.push_back({"Gemm", "fc", {"f", "fc.weight", "fc.bias"}, {"y"}, {{"transB", 1}}});
  spec.outputs = {"y"};
  return spec;
}

GraphSpec cloned_spec(const GraphSpec& spec) {
  GraphSpec copy = spec;
  for (auto& [name, t] : copy.constants) t = t.clone();
  return copy;
}

}  // namespace

TEST_CASE("a batch split over threads sums to the whole batch's gradient", "[training]") {
  const Dataset data = synthetic_train(200, 3);
  const std::vector<int64_t> order = shuffled(data.size());
  auto model = make_model(parse_model_name("lenet5"), 4);
  auto build = [] { return make_model(parse_model_name("lenet5"), 99); };  // other weights: replaced by the model's
  // count: even (64 over 2), uneven (7 over 3: slices 2, 2, 3), fewer images than threads (2 over 3).
  for (const auto& [threads, start, count] : {std::tuple<int, int64_t, int64_t>{2, 0, 64}, {3, 64, 64}, {3, 10, 7},
                                              {3, 150, 2}, {4, 136, 64}}) {
    CAPTURE(threads, start, count);
    const Reference want = whole_batch(*model, data, order, start, count);
    ThreadReplicas replicas(*model, threads, build);
    // `then` runs once, after the sum: it sees the batch's gradient.
    int calls = 0;
    std::vector<float> seen;
    require_close(want, *model, replicas.forward_backward(data, order, start, count, [&] {
      ++calls;
      seen = model->parameters().front().grad().to_vector();
    }));
    CHECK(calls == 1);
    CHECK(seen == model->parameters().front().grad().to_vector());
    // The same batch again sums to the same bits (slices in thread order, whatever thread ends first).
    std::vector<std::vector<float>> first;
    for (const Tensor& p : model->parameters()) first.push_back(p.grad().to_vector());
    replicas.forward_backward(data, order, start, count);
    const std::vector<Tensor> params = model->parameters();
    for (size_t i = 0; i < params.size(); ++i)
      REQUIRE(std::memcmp(first[i].data(), params[i].grad().to_vector().data(), first[i].size() * sizeof(float)) == 0);
  }
}

TEST_CASE("a graph model's batch splits the same way; one with batch norm is not split", "[training]") {
  const Dataset data = [] {
    DataOptions o;
    o.name = "synthetic";
    o.synthetic_train = 64;
    o.synthetic_test = 8;
    o.seed = 1;
    o.resize = 0;
    return load_data(o).train;
  }();
  // The graph reads 6x6 images: crop the 28x28 synthetic ones.
  Dataset small = data;
  small.images = Tensor::empty({data.size(), 1, 6, 6});
  for (int64_t i = 0; i < data.size(); ++i)
    for (int64_t y = 0; y < 6; ++y)
      for (int64_t x = 0; x < 6; ++x)
        small.images.data<float>()[(i * 6 + y) * 6 + x] = data.images.data<float>()[(i * 28 + 11 + y) * 28 + 11 + x];
  const GraphSpec spec = small_graph(false);
  GraphModel model(cloned_spec(spec), "test graph");
  const std::vector<int64_t> order = shuffled(small.size());
  const Reference want = whole_batch(model, small, order, 8, 40);
  ThreadReplicas replicas(model, 3, [&] { return std::make_shared<GraphModel>(cloned_spec(spec), "test graph"); });
  require_close(want, model, replicas.forward_backward(small, order, 8, 40));

  CHECK_FALSE(model.normalises_over_batch());
  CHECK(GraphModel(cloned_spec(small_graph(true)), "bn graph").normalises_over_batch());
  CHECK(batch_split_suits(model, 2, 64));
  CHECK_FALSE(batch_split_suits(GraphModel(cloned_spec(small_graph(true)), "bn graph"), 2, 64));
  // A replica that shares the model's tensors would share its gradients: refused.
  auto same = std::make_shared<GraphModel>(spec, "shared");
  REQUIRE_THROWS(ThreadReplicas(*same, 2, [&] { return std::make_shared<GraphModel>(spec, "shared"); }));
}

TEST_CASE("an epoch split over threads trains as the unsplit epoch", "[training]") {
  set_num_threads(2);
  const Dataset data = synthetic_train(512, 6);
  auto plain = make_model(parse_model_name("lenet5"), 8);
  auto split = make_model(parse_model_name("lenet5"), 8);
  Sgd opt_plain(plain->parameters(), SgdOptions{0.05f, 0.9f, 0.0f, 5e-4f, false});
  Sgd opt_split(split->parameters(), SgdOptions{0.05f, 0.9f, 0.0f, 5e-4f, false});
  ThreadReplicas replicas(*split, 2, [] { return make_model(parse_model_name("lenet5"), 1); });
  for (int epoch = 0; epoch < 2; ++epoch) {
    const EpochStats a = train_epoch(*plain, opt_plain, data, 48, 2, epoch);  // 11 batches, the last of 32
    const EpochStats b = train_epoch(*split, opt_split, data, 48, 2, epoch, nullptr, nullptr, &replicas);
    REQUIRE(b.finite);
    CHECK(b.images == a.images);
    CHECK(b.loss == Approx(a.loss).epsilon(1e-3));
    CHECK(std::abs(b.accuracy - a.accuracy) <= 2.0 / 512);
  }
  // The replica read the stepped weights: both runs end at (nearly) the same weights.
  const std::vector<Tensor> pa = plain->parameters(), pb = split->parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    const std::vector<float> a = pa[i].to_vector(), b = pb[i].to_vector();
    for (size_t k = 0; k < a.size(); ++k) REQUIRE(std::abs(a[k] - b[k]) <= 1e-3f + 1e-3f * std::abs(a[k]));
  }
}

TEST_CASE("a non-finite slice loss stops a split epoch at that batch", "[training]") {
  set_num_threads(2);
  const Dataset data = synthetic_train(256, 2);
  auto model = make_model(parse_model_name("lenet5"), 3);
  Tensor w = model->named_parameters().back().second;  // fc3.bias
  w.data<float>()[0] = std::numeric_limits<float>::infinity();
  Sgd opt(model->parameters(), SgdOptions{0.05f, 0.0f, 0.0f, 0.0f, false});
  ThreadReplicas replicas(*model, 2, [] { return make_model(parse_model_name("lenet5"), 3); });
  std::vector<std::vector<float>> before;
  for (const Tensor& p : model->parameters()) before.push_back(p.to_vector());
  const EpochStats st = train_epoch(*model, opt, data, 64, 1, 0, nullptr, nullptr, &replicas);
  CHECK_FALSE(st.finite);
  CHECK(st.bad_batch == 0);
  CHECK_FALSE(std::isfinite(st.bad_loss));
  // No step was taken from the bad batch.
  const std::vector<Tensor> after = model->parameters();
  for (size_t i = 0; i < after.size(); ++i) CHECK(after[i].to_vector() == before[i]);
}

TEST_CASE("the batch is split only for small models without batch norm, on two threads or more", "[training]") {
  auto lenet = make_model(parse_model_name("lenet5"), 0);
  CHECK(batch_split_suits(*lenet, 2, 64));
  CHECK(batch_split_suits(*lenet, 4, 32));
  CHECK_FALSE(batch_split_suits(*lenet, 1, 64));   // one thread
  CHECK_FALSE(batch_split_suits(*lenet, 2, 15));   // under 8 images a thread
  CHECK_FALSE(batch_split_suits(*make_model(parse_model_name("lenet5_bn"), 0), 2, 64));
  CHECK_FALSE(batch_split_suits(*make_model(parse_model_name("vgg11"), 0), 2, 64));  // 9.6M parameters
}
