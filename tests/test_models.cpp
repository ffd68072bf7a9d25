// Model architectures: output shapes, parameter names and counts checked against hand-computed
// sums of the published layer shapes.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "framework/autograd.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "models/model_zoo.h"

using namespace stuckat;

namespace {
int64_t conv_params(int64_t in, int64_t out, int64_t k, bool bias) { return in * out * k * k + (bias ? out : 0); }
int64_t linear_params(int64_t in, int64_t out) { return in * out + out; }
int64_t bn_params(int64_t c) { return 2 * c; }

int64_t vgg_params(const std::vector<int>& widths, bool bn) {
  int64_t n = 0, in = 3;
  for (int w : widths) {
    n += conv_params(in, w, 3, true) + (bn ? bn_params(w) : 0);
    in = w;
  }
  return n + linear_params(512, 512) + linear_params(512, 256) + linear_params(256, 10);
}

Tensor forward_shape_probe(Module& m, const Shape& in) {
  NoGradGuard ng;
  m.eval();
  return m.forward(Tensor::zeros(in));
}
}  // namespace

TEST_CASE("LeNet-5 has 61,706 parameters and the published shapes", "[models]") {
  auto m = make_model(parse_model_name("lenet5"), 0);
  // 6*1*25+6 + 16*6*25+16 + 400*120+120 + 120*84+84 + 84*10+10
  REQUIRE(m->parameter_count() == 61706);
  auto params = m->named_parameters();
  REQUIRE(params.size() == 10);
  REQUIRE(params[0].first == "conv1.weight");
  REQUIRE(params[0].second.shape() == Shape{6, 1, 5, 5});
  REQUIRE(params[2].first == "conv2.weight");
  REQUIRE(params[2].second.shape() == Shape{16, 6, 5, 5});
  REQUIRE(params[4].second.shape() == Shape{120, 400});
  REQUIRE(params[6].second.shape() == Shape{84, 120});
  REQUIRE(params[8].first == "fc3.weight");
  REQUIRE(params[8].second.shape() == Shape{10, 84});
  REQUIRE(forward_shape_probe(*m, {3, 1, 28, 28}).shape() == Shape{3, 10});
}

TEST_CASE("LeNet-5 with batch norm adds gamma/beta and running statistics", "[models]") {
  auto m = make_model(parse_model_name("lenet5_bn"), 0);
  REQUIRE(m->parameter_count() == 61706 + bn_params(6) + bn_params(16) + bn_params(120) + bn_params(84));
  auto bufs = m->named_buffers();
  REQUIRE(bufs.size() == 12);  // 4 x (running_mean, running_var, num_batches_tracked)
  REQUIRE(bufs[0].first == "bn1.running_mean");
  REQUIRE(forward_shape_probe(*m, {2, 1, 28, 28}).shape() == Shape{2, 10});
}

TEST_CASE("VGG11/16/19 parameter counts match the configurations", "[models]") {
  const std::vector<int> a = {64, 128, 256, 256, 512, 512, 512, 512};
  const std::vector<int> d = {64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512};
  const std::vector<int> e = {64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512};
  REQUIRE(make_model(parse_model_name("vgg11"), 0)->parameter_count() == vgg_params(a, false));
  REQUIRE(make_model(parse_model_name("vgg11_bn"), 0)->parameter_count() == vgg_params(a, true));
  REQUIRE(make_model(parse_model_name("vgg16"), 0)->parameter_count() == vgg_params(d, false));
  REQUIRE(make_model(parse_model_name("vgg19"), 0)->parameter_count() == vgg_params(e, false));
  // Hand sum for VGG11: features 1,792 + 73,856 + 295,168 + 590,080 + 1,180,160 + 3 x 2,359,808
  // = 9,220,480, classifier 262,656 + 131,328 + 2,570.
  REQUIRE(vgg_params(a, false) == 9220480 + 262656 + 131328 + 2570);
  auto m = make_model(parse_model_name("vgg11_bn"), 0);
  auto p = m->named_parameters();
  REQUIRE(p[0].first == "features.0.weight");
  REQUIRE(p[2].first == "features.1.weight");  // batch norm right after the first conv
  REQUIRE(p[4].first == "features.4.weight");  // conv, bn, relu, pool -> next conv at index 4
  REQUIRE(p[p.size() - 6].first == "classifier.0.weight");
  REQUIRE(p[p.size() - 4].second.shape() == Shape{256, 512});
  REQUIRE(p[p.size() - 2].first == "classifier.4.weight");
  REQUIRE(forward_shape_probe(*m, {2, 3, 32, 32}).shape() == Shape{2, 10});
}

TEST_CASE("ResNet-18 (CIFAR) parameter count and names", "[models]") {
  // stem + 4 stages of two basic blocks + 1x1 shortcuts in stages 2-4 + fc.
  int64_t n = conv_params(3, 64, 3, false) + bn_params(64);
  const int64_t widths[4] = {64, 128, 256, 512};
  int64_t in = 64;
  for (int s = 0; s < 4; ++s) {
    for (int b = 0; b < 2; ++b) {
      int64_t w = widths[s];
      n += conv_params(b == 0 ? in : w, w, 3, false) + bn_params(w) + conv_params(w, w, 3, false) + bn_params(w);
      if (b == 0 && s > 0) n += conv_params(in, w, 1, false) + bn_params(w);
    }
    in = widths[s];
  }
  n += linear_params(512, 10);
  REQUIRE(n == 11173962);  // the widely quoted size of CIFAR ResNet-18
  auto m = make_model(parse_model_name("resnet18"), 0);
  REQUIRE(m->parameter_count() == n);
  bool has_shortcut = false, has_layer4_bn2 = false;
  for (auto& kv : m->named_state()) {
    if (kv.first == "layer2.0.shortcut.0.weight") has_shortcut = kv.second.shape() == Shape{128, 64, 1, 1};
    if (kv.first == "layer4.1.bn2.running_var") has_layer4_bn2 = true;
  }
  REQUIRE(has_shortcut);
  REQUIRE(has_layer4_bn2);
  REQUIRE(forward_shape_probe(*m, {1, 3, 32, 32}).shape() == Shape{1, 10});
}

TEST_CASE("model names are validated and initialisation is seeded", "[models]") {
  REQUIRE_THROWS_AS(parse_model_name("lenet6"), InputError);
  REQUIRE(parse_model_name("resnet18").name() == "resnet18");
  REQUIRE(parse_model_name("vgg16_bn").name() == "vgg16_bn");
  auto a = make_model(parse_model_name("lenet5"), 1), b = make_model(parse_model_name("lenet5"), 1),
       c = make_model(parse_model_name("lenet5"), 2);
  REQUIRE(a->named_parameters()[0].second.to_vector() == b->named_parameters()[0].second.to_vector());
  REQUIRE(a->named_parameters()[0].second.to_vector() != c->named_parameters()[0].second.to_vector());
  // PyTorch default init: |w| <= 1/sqrt(fan_in) = 1/sqrt(25) for conv1.
  for (float v : a->named_parameters()[0].second.to_vector()) REQUIRE(std::abs(v) <= 0.2f);
  REQUIRE_THROWS_AS(check_model_input(parse_model_name("vgg11"), 1, 28, 28, "fashion-mnist"), InputError);
  REQUIRE_NOTHROW(check_model_input(parse_model_name("vgg11"), 3, 32, 32, "cifar10"));
}

// torchvision's VGG / ResNet initialisation (--weight-init kaiming): conv weights normal with std
// sqrt(2 / fan_out), fan_out = out * k * k; linear weights normal with std 0.01; biases zero. The
// sample moments of each tensor (tens of thousands of draws) are checked against those formulas.
TEST_CASE("Kaiming initialisation draws conv and linear weights with torchvision's spreads and zero biases",
          "[models]") {
  const ModelSpec spec = parse_model_name("vgg11");
  auto model = make_model(spec, 5, WeightInit::Kaiming);
  int convs = 0, linears = 0;
  for (const auto& [name, p] : model->named_parameters()) {
    const std::vector<float> v = p.to_vector();
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      for (float x : v) REQUIRE(x == 0.0f);
      continue;
    }
    double sum = 0, squares = 0;
    for (float x : v) sum += x, squares += double(x) * x;
    const double n = double(v.size()), mean = sum / n, std = std::sqrt(squares / n - mean * mean);
    double want = 0.01;
    if (p.dim() == 4) {
      want = std::sqrt(2.0 / double(p.size(0) * p.size(2) * p.size(3)));
      ++convs;
    } else {
      ++linears;
    }
    INFO(name << " " << v.size() << " weights, std " << std << ", want " << want);
    // A sample of n normals: the std's relative standard error is 1/sqrt(2n) (<= 1.3% here).
    CHECK(std::abs(std / want - 1.0) < 5.0 / std::sqrt(2.0 * n));
    CHECK(std::abs(mean) < 5.0 * want / std::sqrt(n));
  }
  CHECK(convs == 8);
  CHECK(linears == 3);
  // Seeded like the default scheme, and different from it.
  auto again = make_model(spec, 5, WeightInit::Kaiming), plain = make_model(spec, 5);
  CHECK(model->named_parameters()[0].second.to_vector() == again->named_parameters()[0].second.to_vector());
  CHECK(model->named_parameters()[0].second.to_vector() != plain->named_parameters()[0].second.to_vector());
  CHECK(parse_weight_init("kaiming", "--weight-init") == WeightInit::Kaiming);
  CHECK_THROWS_WITH(parse_weight_init("xavier", "--weight-init"),
                    Catch::Contains("--weight-init") && Catch::Contains("xavier") && Catch::Contains("kaiming"));
}

// Loading a checkpoint builds the model with WeightInit::Unset (no draws): what it computes must
// come from the file alone, and a file that lacks a tensor must still be refused.
TEST_CASE("a model built unset and filled from a checkpoint equals the saved one", "[models]") {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("stuckat_unset_" + std::to_string(::getpid()) + ".safetensors")).string();
  for (const char* name : {"lenet5", "vgg11_bn", "resnet18"}) {
    INFO(name);
    const ModelSpec spec = parse_model_name(name);
    auto saved = make_model(spec, 11, WeightInit::Kaiming);
    save_checkpoint(path, *saved, {{"model", name}});
    auto loaded = make_model(spec, 0, WeightInit::Unset);
    load_checkpoint(path, *loaded, name);
    const NamedTensorList want = saved->named_state(), got = loaded->named_state();
    REQUIRE(want.size() == got.size());
    for (size_t i = 0; i < want.size(); ++i) {
      INFO(want[i].first);
      CHECK(got[i].first == want[i].first);
      CHECK(got[i].second.shape() == want[i].second.shape());
      if (got[i].second.dtype() == DType::F32) CHECK(got[i].second.to_vector() == want[i].second.to_vector());
    }
    NamedTensorList partial = saved->named_state();
    partial.erase(partial.begin());  // the first conv weight
    write_safetensors(path, partial, {{"model", name}});
    auto refused = make_model(spec, 0, WeightInit::Unset);
    CHECK_THROWS_WITH(load_checkpoint(path, *refused, name), Catch::Contains("missing"));
  }
  std::filesystem::remove(path);
}

// Each built-in model against PyTorch; run by scripts/pytorch_models_interop.py, which builds the
// same architectures in PyTorch, gives them random weights and batch-norm statistics, writes
// STUCKAT_INTEROP_MODELS/<model>.safetensors (safetensors.torch.save_file) and <model>.input.safetensors,
// and compares the logits written here with its own (hidden from a plain run: it needs those files).
TEST_CASE("interop: the built-in models' logits for PyTorch's weights and inputs", "[.interop]") {
  const char* dir = std::getenv("STUCKAT_INTEROP_MODELS");
  REQUIRE(dir != nullptr);
  int models = 0;
  for (const std::string& name : model_names()) {
    const std::string base = std::string(dir) + "/" + name;
    if (!std::filesystem::exists(base + ".safetensors")) continue;
    INFO(name);
    auto model = make_model(parse_model_name(name), 0);
    load_checkpoint(base + ".safetensors", *model, name);  // every tensor, shape and dtype must fit
    const SafetensorsContent input = read_safetensors(base + ".input.safetensors");
    REQUIRE(input.tensors.size() == 1);
    const Tensor& x = input.tensors.front().second;
    NoGradGuard ng;
    model->eval();
    const Tensor eval_logits = model->forward(x);
    Tensor staged = x;  // the stage-by-stage forward the sweep runs
    for (const ForwardStage& st : model->forward_stages()) staged = st.run(staged);
    model->train();  // batch-norm layers normalise with the batch's statistics
    const Tensor train_logits = model->forward(x);
    write_safetensors(base + ".logits.safetensors", {{"eval", eval_logits}, {"stages", staged}, {"train", train_logits}},
                      {{"model", name}});
    ++models;
  }
  REQUIRE(models > 0);
}
