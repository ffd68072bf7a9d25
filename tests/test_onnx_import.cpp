// ONNX import: a small graph built here with the ONNX protobuf API (conv with asymmetric pads,
// relu, depthwise conv, concat, global pooling, a dynamic-batch Reshape through Shape/Gather,
// Gemm) against plain loops written in this file; the checkpoint of an imported model carries its
// graph; bad files are refused with one sentence naming the file (and the node); every built-in
// model exported and imported again computes the same logits bit for bit.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "base/error.h"
#include "framework/autograd.h"
#include "framework/io/checkpoint.h"
#include "framework/ops.h"
#include "framework/ops/elementwise_ops.h"
#include "framework/random.h"
#include "jobs/model_source.h"
#include "models/builtin_graph.h"
#include "models/graph_model.h"
#include "models/model_zoo.h"
#include "onnx/onnx_export.h"
#include "onnx/onnx_import.h"
#include "onnx/onnx_tensor.h"

using namespace stuckat;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path dir = fs::temp_directory_path() / ("stuckat_onnx_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(dir); }
  ~TempDir() { fs::remove_all(dir); }
  std::string file(const std::string& n) const { return (dir / n).string(); }
};

std::vector<float> random_values(size_t n, uint64_t seed) {
  RandomStream rng(seed, 1);
  std::vector<float> v(n);
  for (float& x : v) x = rng.next_uniform(-1.0f, 1.0f);
  return v;
}

void add_init(onnx::GraphProto& g, const std::string& name, const Shape& shape, const std::vector<float>& v) {
  tensor_to_onnx(Tensor::from_vector(v, shape), name, *g.add_initializer());
}

onnx::NodeProto* add_node(onnx::GraphProto& g, const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                          const std::string& name = "") {
  onnx::NodeProto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

void ints_attr(onnx::NodeProto* n, const std::string& key, std::vector<int64_t> v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void int_attr(onnx::NodeProto* n, const std::string& key, int64_t v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void value_info(onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) {
    auto* dim = tt->mutable_shape()->add_dim();
    if (d < 0) dim->set_dim_param("n");
    else dim->set_dim_value(d);
  }
}

// x (n, 2, 5, 5) -> Conv 3x3 (2 -> 3), pads [0, 1, 2, 1] (top, left, bottom, right), stride 1
// -> Relu -> depthwise Conv 3x3 group 3, pads 1 -> Concat with the relu output on channels (6)
// -> GlobalAveragePool -> Reshape to (n, 6) via Shape/Gather/Unsqueeze/Concat -> Gemm (6 -> 4, transB).
struct SmallNet {
  std::vector<float> w1 = random_values(3 * 2 * 9, 1), b1 = random_values(3, 2), wd = random_values(3 * 9, 3),
                     w2 = random_values(4 * 6, 4), b2 = random_values(4, 5);
  onnx::ModelProto proto(int64_t opset = 13) const {
    onnx::ModelProto m;
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    onnx::GraphProto& g = *m.mutable_graph();
    g.set_name("small");
    value_info(g.add_input(), "x", {-1, 2, 5, 5});
    value_info(g.add_output(), "y", {-1, 4});
    add_init(g, "conv1.weight", {3, 2, 3, 3}, w1);
    add_init(g, "conv1.bias", {3}, b1);
    add_init(g, "onnx::Conv_7", {3, 1, 3, 3}, wd);
    add_init(g, "fc.weight", {4, 6}, w2);
    add_init(g, "fc.bias", {4}, b2);
    onnx::NodeProto* c1 = add_node(g, "Conv", {"x", "conv1.weight", "conv1.bias"}, {"c1"}, "conv1");
    ints_attr(c1, "pads", {0, 1, 2, 1});
    ints_attr(c1, "kernel_shape", {3, 3});
    add_node(g, "Relu", {"c1"}, {"r1"});
    onnx::NodeProto* dw = add_node(g, "Conv", {"r1", "onnx::Conv_7"}, {"d1"}, "dw");
    ints_attr(dw, "pads", {1, 1, 1, 1});
    int_attr(dw, "group", 3);
    int_attr(add_node(g, "Concat", {"d1", "r1"}, {"cat"}), "axis", 1);
    add_node(g, "GlobalAveragePool", {"cat"}, {"gap"});
    add_node(g, "Shape", {"gap"}, {"shape"});
    tensor_to_onnx(Tensor::zeros({}, DType::I64), "zero", *g.add_initializer());
    int_attr(add_node(g, "Gather", {"shape", "zero"}, {"batch"}), "axis", 0);
    onnx::NodeProto* uns = add_node(g, "Unsqueeze", {"batch"}, {"batch1"});
    ints_attr(uns, "axes", {0});  // opset < 13 form, rewritten below for 13
    if (opset >= 13) {
      uns->clear_attribute();
      Tensor axes = Tensor::zeros({1}, DType::I64);
      tensor_to_onnx(axes, "axes0", *g.add_initializer());
      uns->add_input("axes0");
    }
    Tensor minus1 = Tensor::empty({1}, DType::I64);
    minus1.data<int64_t>()[0] = -1;
    tensor_to_onnx(minus1, "minus1", *g.add_initializer());
    int_attr(add_node(g, "Concat", {"batch1", "minus1"}, {"target"}), "axis", 0);
    add_node(g, "Reshape", {"gap", "target"}, {"flat"});
    int_attr(add_node(g, "Gemm", {"flat", "fc.weight", "fc.bias"}, {"y"}, "fc"), "transB", 1);
    return m;
  }

  // The same network in plain loops.
  std::vector<float> reference(const std::vector<float>& x, int64_t n) const {
    const int64_t H = 5, W = 5, Ho = 5 + 0 + 2 - 2, Wo = 5 + 2 - 2;  // 5x5 with pads (0,1,2,1): 5 x 5
    std::vector<double> r1(size_t(n * 3 * Ho * Wo));
    for (int64_t b = 0; b < n; ++b)
      for (int64_t co = 0; co < 3; ++co)
        for (int64_t oy = 0; oy < Ho; ++oy)
          for (int64_t ox = 0; ox < Wo; ++ox) {
            double s = b1[size_t(co)];
            for (int64_t ci = 0; ci < 2; ++ci)
              for (int64_t ky = 0; ky < 3; ++ky)
                for (int64_t kx = 0; kx < 3; ++kx) {
                  const int64_t iy = oy + ky - 0, ix = ox + kx - 1;
                  if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                  s += double(w1[size_t(((co * 2 + ci) * 3 + ky) * 3 + kx)]) * x[size_t(((b * 2 + ci) * H + iy) * W + ix)];
                }
            r1[size_t(((b * 3 + co) * Ho + oy) * Wo + ox)] = std::max(0.0, s);
          }
    std::vector<float> y(size_t(n * 4));
    for (int64_t b = 0; b < n; ++b) {
      double gap[6];
      for (int64_t c = 0; c < 3; ++c) {
        double sd = 0, sr = 0;
        for (int64_t oy = 0; oy < Ho; ++oy)
          for (int64_t ox = 0; ox < Wo; ++ox) {
            double d = 0;
            for (int64_t ky = 0; ky < 3; ++ky)
              for (int64_t kx = 0; kx < 3; ++kx) {
                const int64_t iy = oy + ky - 1, ix = ox + kx - 1;
                if (iy < 0 || iy >= Ho || ix < 0 || ix >= Wo) continue;
                d += double(wd[size_t((c * 3 + ky) * 3 + kx)]) * r1[size_t(((b * 3 + c) * Ho + iy) * Wo + ix)];
              }
            sd += d;
            sr += r1[size_t(((b * 3 + c) * Ho + oy) * Wo + ox)];
          }
        gap[c] = sd / (Ho * Wo);
        gap[3 + c] = sr / (Ho * Wo);
      }
      for (int64_t o = 0; o < 4; ++o) {
        double s = b2[size_t(o)];
        for (int64_t i = 0; i < 6; ++i) s += double(w2[size_t(o * 6 + i)]) * gap[i];
        y[size_t(b * 4 + o)] = float(s);
      }
    }
    return y;
  }
};

void write_proto(const onnx::ModelProto& m, const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  REQUIRE(m.SerializeToOstream(&f));
}

std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("an ONNX graph runs as the same network written in loops, for any batch size and opset form", "[onnx]") {
  TempDir t;
  SmallNet net;
  for (int64_t opset : {11, 13}) {
    INFO("opset " << opset);
    write_proto(net.proto(opset), t.file("small.onnx"));
    std::shared_ptr<GraphModel> m = import_onnx(t.file("small.onnx"));
    // The shape subgraph of a constant-shaped value is folded; the one reading a runtime shape stays.
    for (int64_t n : {1, 3}) {
      const std::vector<float> x = random_values(size_t(n * 2 * 25), 7 + n);
      NoGradGuard ng;
      m->eval();
      const Tensor y = m->forward(Tensor::from_vector(x, {n, 2, 5, 5}));
      REQUIRE(y.shape() == Shape{n, 4});
      const std::vector<float> want = net.reference(x, n);
      for (size_t i = 0; i < want.size(); ++i) REQUIRE(y.to_vector()[i] == Approx(want[i]).margin(1e-5));
    }
    // Parameters named as in the file; a layer weight not named "*.weight" gets the suffix.
    std::vector<std::string> names;
    for (const auto& [name, p] : m->named_parameters()) names.push_back(name);
    CHECK(names == std::vector<std::string>{"conv1.weight", "conv1.bias", "onnx::Conv_7.weight", "fc.weight", "fc.bias"});
    REQUIRE(m->spec().renamed.size() == 1);
    CHECK(m->spec().renamed[0] == std::make_pair(std::string("onnx::Conv_7.weight"), std::string("onnx::Conv_7")));
  }
}

TEST_CASE("an imported network trains: gradients reach every parameter and match finite differences", "[onnx]") {
  TempDir t;
  SmallNet net;
  write_proto(net.proto(), t.file("small.onnx"));
  std::shared_ptr<GraphModel> m = import_onnx(t.file("small.onnx"));
  m->train();
  const Tensor x = Tensor::from_vector(random_values(2 * 2 * 25, 11), {2, 2, 5, 5});
  const Tensor labels = Tensor::from_vector(std::vector<int32_t>{1, 3}, {2});
  Tensor loss = cross_entropy(m->forward(x), labels);
  run_backward(loss);
  for (auto& [name, p] : m->named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    // One element by central differences (f32 forward: a loose tolerance).
    float* w = p.data<float>();
    const float keep = w[0], h = 1e-2f;
    NoGradGuard ng;
    w[0] = keep + h;
    const double up = cross_entropy(m->forward(x), labels).item();
    w[0] = keep - h;
    const double down = cross_entropy(m->forward(x), labels).item();
    w[0] = keep;
    CHECK(p.grad().to_vector()[0] == Approx((up - down) / (2 * h)).margin(2e-3));
  }
}

TEST_CASE("a checkpoint of an imported network rebuilds it without the ONNX file, bit for bit", "[onnx]") {
  TempDir t;
  SmallNet net;
  write_proto(net.proto(), t.file("small.onnx"));
  const jobs::ModelSource source = jobs::ModelSource::from_checkpoint(t.file("small.onnx"), "");
  CHECK(source.name() == "small");
  std::shared_ptr<Module> a = source.load();
  save_checkpoint(t.file("ck.safetensors"), *a, source.checkpoint_metadata());
  fs::remove(t.file("small.onnx"));
  const jobs::ModelSource again = jobs::ModelSource::from_checkpoint(t.file("ck.safetensors"), "");
  CHECK(again.imported());
  std::shared_ptr<Module> b = again.load();
  NoGradGuard ng;
  a->eval();
  b->eval();
  const Tensor x = Tensor::from_vector(random_values(4 * 2 * 25, 3), {4, 2, 5, 5});
  CHECK(a->forward(x).to_vector() == b->forward(x).to_vector());
  // Two models from one source do not share weights.
  std::shared_ptr<Module> c = again.build(0);
  c->named_parameters()[0].second.data<float>()[0] += 1.0f;
  CHECK(b->forward(x).to_vector() == a->forward(x).to_vector());
  CHECK_THROWS_AS(again.check_input(1, 5, 5, "synthetic"), InputError);
  CHECK_NOTHROW(again.check_input(2, 5, 5, "synthetic"));
}

TEST_CASE("bad ONNX files are refused with one sentence naming the file and the node", "[onnx]") {
  TempDir t;
  SmallNet net;
  const std::string path = t.file("m.onnx");
  auto with = [&](const onnx::ModelProto& m) {
    write_proto(m, path);
    return refusal([&] { import_onnx(path); });
  };
  {
    std::ofstream(path) << "not a protobuf at all \xff\xff\xff\xff";
    CHECK_THAT(refusal([&] { import_onnx(path); }), Catch::Contains("m.onnx") && Catch::Contains("not an ONNX model"));
  }
  {
    std::string bytes;
    net.proto().SerializeToString(&bytes);
    std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    CHECK_THAT(refusal([&] { import_onnx(path); }), Catch::Contains("m.onnx"));
  }
  CHECK_THAT(refusal([&] { import_onnx(t.file("absent.onnx")); }), Catch::Contains("absent.onnx"));
  {
    onnx::ModelProto m = net.proto();
    m.mutable_graph()->mutable_node(1)->set_op_type("LRN");
    const std::string msg = with(m);
    CHECK_THAT(msg, Catch::Contains("LRN node") && Catch::Contains("not supported") && Catch::Contains("supported ops: Add"));
  }
  {
    onnx::ModelProto m = net.proto();
    m.mutable_opset_import(0)->set_version(18);
    CHECK_THAT(with(m), Catch::Contains("opset 18"));
  }
  {
    onnx::ModelProto m = net.proto();
    m.mutable_graph()->mutable_initializer(0)->set_data_location(onnx::TensorProto::EXTERNAL);
    CHECK_THAT(with(m), Catch::Contains("conv1.weight") && Catch::Contains("external"));
  }
  {
    onnx::ModelProto m = net.proto();  // a weight for 3 input channels where the input has 2
    tensor_to_onnx(Tensor::zeros({3, 3, 3, 3}), "conv1.weight", *m.mutable_graph()->mutable_initializer(0));
    m.mutable_graph()->mutable_initializer(0)->clear_dims();
    for (int d : {3, 3, 3, 3}) m.mutable_graph()->mutable_initializer(0)->add_dims(d);
    CHECK_THAT(with(m), Catch::Contains("Conv node \"conv1\"") && Catch::Contains("group"));
  }
  {
    onnx::ModelProto m = net.proto();  // a declared shape that does not hold the data
    m.mutable_graph()->mutable_initializer(1)->add_dims(2);
    CHECK_THAT(with(m), Catch::Contains("conv1.bias") && Catch::Contains("holds"));
  }
  {
    onnx::ModelProto m = net.proto();
    m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
    CHECK_THAT(with(m), Catch::Contains("'nowhere'"));
  }
}

TEST_CASE("every built-in model as a graph, and exported and imported again, computes its logits bit for bit",
          "[onnx]") {
  TempDir t;
  for (const std::string& name : model_names()) {
    INFO(name);
    const ModelSpec spec = parse_model_name(name);
    std::shared_ptr<Module> model = make_model(spec, 5);
    // Nonzero batch-norm statistics, so that every term of the normalisation is exercised.
    for (auto& [state, tensor] : model->named_buffers())
      if (tensor.dtype() == DType::F32) tensor.data<float>()[0] += 0.25f;
    const GraphSpec graph = builtin_graph(spec, *model);
    GraphModel as_graph(graph, name);
    const std::string path = t.file(name + ".onnx");
    std::vector<Shape> shapes{{-1, spec.num_classes}};
    export_onnx(graph, *model, shapes, path, "test");
    std::shared_ptr<GraphModel> imported = import_onnx(path);
    const Tensor x = Tensor::from_vector(random_values(size_t(2 * spec.in_channels * spec.in_size * spec.in_size), 9),
                                         {2, spec.in_channels, spec.in_size, spec.in_size});
    NoGradGuard ng;
    for (Module* m : {model.get(), static_cast<Module*>(&as_graph), static_cast<Module*>(imported.get())}) m->eval();
    const std::vector<float> want = model->forward(x).to_vector();
    CHECK(as_graph.forward(x).to_vector() == want);
    CHECK(imported->forward(x).to_vector() == want);
    // In training mode (batch statistics) too.
    model->train();
    imported->train();
    CHECK(imported->forward(x).to_vector() == model->forward(x).to_vector());
  }
}

TEST_CASE("an imported graph cut into sweep stages computes its forward pass stage by stage, bit for bit", "[onnx]") {
  TempDir t;
  SmallNet net;
  write_proto(net.proto(), t.file("small.onnx"));
  std::shared_ptr<GraphModel> small = import_onnx(t.file("small.onnx"));
  const ModelSpec lenet = parse_model_name("lenet5"), resnet = parse_model_name("resnet18");
  std::shared_ptr<Module> lenet_model = make_model(lenet, 3), resnet_model = make_model(resnet, 3);
  GraphModel lenet_graph(builtin_graph(lenet, *lenet_model), "lenet5"), resnet_graph(builtin_graph(resnet, *resnet_model), "resnet18");
  struct Case {
    GraphModel* model;
    Shape input;
    size_t stages, split;
  };
  // The small net: [conv1, relu], [depthwise, concat (reading relu's output too), pooling,
  // reshape], [fc]; only fc is a plain layer (conv1 has asymmetric pads, the depthwise conv groups).
  // LeNet-5: a stage per layer, each split. ResNet-18: the stem, 8 blocks (each reads its input
  // again in the residual add: not split), fc.
  for (const Case& c : {Case{small.get(), {3, 2, 5, 5}, 3, 1}, Case{&lenet_graph, {2, 1, 28, 28}, 5, 5},
                        Case{&resnet_graph, {2, 3, 32, 32}, 10, 2}}) {
    INFO(c.model->spec().nodes.size() << " nodes");
    NoGradGuard ng;
    c.model->eval();
    const Tensor x = Tensor::from_vector(random_values(size_t(Tensor::zeros(c.input).numel()), 4), c.input);
    const std::vector<ForwardStage> stages = c.model->forward_stages();
    CHECK(stages.size() == c.stages);
    Tensor h = x;
    size_t split = 0;
    for (const ForwardStage& st : stages) {
      const Tensor next = st.run(h);
      if (st.layer) {
        ++split;
        CHECK(st.after(st.layer->forward(h)).to_vector() == next.to_vector());
      }
      h = next;
    }
    CHECK(split == c.split);
    CHECK(h.to_vector() == c.model->forward(x).to_vector());
  }
}

// torch.onnx.export writes equal tensors once and an Identity of it for each further use (every
// zero bias of a fresh model, say), at the top of the graph. Each use becomes its own parameter,
// and the value no longer lives across the graph, so the graph still cuts into a stage per layer.
TEST_CASE("an Identity of an initializer becomes a parameter of its own, and the graph still cuts into stages",
          "[onnx]") {
  TempDir t;
  const std::vector<float> w1 = random_values(4 * 2 * 9, 11), w2 = random_values(4 * 4 * 9, 12), bias = random_values(4, 13);
  auto proto = [&](bool shared) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(13);
    onnx::GraphProto& g = *m.mutable_graph();
    g.set_name("shared_bias");
    value_info(g.add_input(), "x", {-1, 2, 6, 6});
    value_info(g.add_output(), "y", {-1, 4, 6, 6});
    add_init(g, "w1", {4, 2, 3, 3}, w1);
    add_init(g, "w2", {4, 4, 3, 3}, w2);
    add_init(g, "b1", {4}, bias);
    if (shared) add_node(g, "Identity", {"b1"}, {"b2"});
    else add_init(g, "b2", {4}, bias);
    ints_attr(add_node(g, "Conv", {"x", "w1", "b1"}, {"c1"}), "pads", {1, 1, 1, 1});
    add_node(g, "Relu", {"c1"}, {"r1"});
    ints_attr(add_node(g, "Conv", {"r1", "w2", "b2"}, {"y"}), "pads", {1, 1, 1, 1});
    return m;
  };
  write_proto(proto(true), t.file("shared.onnx"));
  write_proto(proto(false), t.file("separate.onnx"));
  std::shared_ptr<GraphModel> shared = import_onnx(t.file("shared.onnx")), separate = import_onnx(t.file("separate.onnx"));
  for (const GraphNode& n : shared->spec().nodes) CHECK(n.op != "Identity");
  std::vector<std::string> names;
  for (const auto& [name, p] : shared->named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"w1.weight", "b1", "w2.weight", "b2"});  // a layer's weight is named for it
  CHECK(shared->forward_stages().size() == 2);  // [conv, relu], [conv]: b2 is not live across the cut
  NoGradGuard ng;
  shared->eval(), separate->eval();
  const Tensor x = Tensor::from_vector(random_values(3 * 2 * 36, 14), {3, 2, 6, 6});
  CHECK(shared->forward(x).to_vector() == separate->forward(x).to_vector());
  // Its own storage: changing one bias leaves the other as it was.
  for (const auto& [name, p] : shared->named_parameters())
    if (name == "b2") p.data<float>()[0] += 1.0f;
  for (const auto& [name, p] : shared->named_parameters())
    if (name == "b1") CHECK(p.data<float>()[0] == bias[0]);
  CHECK(shared->forward(x).to_vector() != separate->forward(x).to_vector());
}

TEST_CASE("graph stages of per-channel layers run on a subset of channels as the built-in ones do", "[onnx]") {
  for (const std::string name : {"lenet5", "lenet5_bn"}) {
    INFO(name);
    const ModelSpec spec = parse_model_name(name);
    std::shared_ptr<Module> builtin = make_model(spec, 8);
    for (auto& [state, t] : builtin->named_buffers())  // statistics away from 0 / 1
      if (t.dtype() == DType::F32) t.data<float>()[0] += 0.5f;
    GraphModel graph(builtin_graph(spec, *builtin), name);
    NoGradGuard ng;
    graph.eval();
    builtin->eval();
    const std::vector<ForwardStage> ours = graph.forward_stages(), theirs = builtin->forward_stages();
    REQUIRE(ours.size() == theirs.size());
    Tensor h = Tensor::from_vector(random_values(2 * 28 * 28, 6), {2, 1, 28, 28});
    for (size_t k = 0; k < ours.size(); ++k) {
      INFO("stage " << k);
      REQUIRE(ours[k].layer);
      CHECK(bool(ours[k].after_channels) == bool(theirs[k].after_channels));
      CHECK(ours[k].after_relu_pool.matches == theirs[k].after_relu_pool.matches);
      CHECK(ours[k].after_relu_pool.pool_k == theirs[k].after_relu_pool.pool_k);
      CHECK(ours[k].after_relu_pool.pool_first == theirs[k].after_relu_pool.pool_first);
      const Tensor y = ours[k].layer->forward(h);
      const std::vector<int64_t> channels{1, 3};
      if (ours[k].after_channels && theirs[k].after_channels)
        CHECK(ours[k].after_channels(select_index(y, 1, channels), channels).to_vector() ==
              theirs[k].after_channels(select_index(y, 1, channels), channels).to_vector());
      CHECK(ours[k].after(y).to_vector() == theirs[k].after(y).to_vector());
      h = ours[k].run(h);
    }
  }
}

TEST_CASE("inference writes ReLU and ReLU6 over values nothing else reads, with the same results", "[onnx]") {
  // x -> Conv -> Clip(0, 6) -> Conv -> Relu -> y, with the first Clip's input also a graph output
  // (so it must not be overwritten) and a second branch reading the first conv's Relu output.
  GraphSpec spec;
  spec.opset = 13;
  spec.inputs = {{"x", {-1, 2, 5, 5}, DType::F32}};
  Tensor w1 = Tensor::empty({3, 2, 3, 3}), w2 = Tensor::empty({3, 3, 1, 1});
  for (int64_t i = 0; i < w1.numel(); ++i) w1.data<float>()[i] = 0.3f * std::sin(1.7f * float(i)) * 4;
  for (int64_t i = 0; i < w2.numel(); ++i) w2.data<float>()[i] = std::cos(0.9f * float(i)) * 3;
  spec.constants = {{"w1", w1}, {"w2", w2}, {"lo", Tensor::from_vector(std::vector<float>{0.0f}, {})},
                    {"hi", Tensor::from_vector(std::vector<float>{6.0f}, {})}};
  spec.nodes = {{"Conv", "c1", {"x", "w1"}, {"a"}, {{"pads", {1, 1, 1, 1}}}},
                {"Clip", "r6", {"a", "lo", "hi"}, {"b"}, nlohmann::json::object()},
                {"Conv", "c2", {"b", "w2"}, {"c"}, nlohmann::json::object()},
                {"Relu", "r", {"c"}, {"d"}, nlohmann::json::object()},
                {"Relu", "r2", {"d"}, {"e"}, nlohmann::json::object()},
                {"Add", "sum", {"e", "b"}, {"y"}, nlohmann::json::object()}};
  spec.outputs = {"y", "a"};
  GraphModel m(spec, "in-place test");
  Tensor x = Tensor::empty({4, 2, 5, 5});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = 5 * std::sin(0.37f * float(i));
  const std::vector<float> x_before = x.to_vector();
  std::vector<Tensor> with_grad = m.forward_all({x});  // autograd on: nothing in place
  std::vector<Tensor> no_grad;
  {
    NoGradGuard guard;
    no_grad = m.forward_all({x});
  }
  REQUIRE(x.to_vector() == x_before);  // the graph input is never overwritten
  REQUIRE(no_grad.size() == 2);
  REQUIRE(no_grad[0].to_vector() == with_grad[0].to_vector());
  REQUIRE(no_grad[1].to_vector() == with_grad[1].to_vector());  // "a" stayed unclipped
  bool clipped = false, negative = false;
  for (float v : no_grad[1].to_vector()) clipped = clipped || v > 6, negative = negative || v < 0;
  REQUIRE(clipped);
  REQUIRE(negative);
  // The reference: the same arithmetic written out.
  const Tensor a = conv2d(x, w1, Tensor(), 1, 1), b = unary(a, UnaryOp::Clip, 0, 6);
  const Tensor y = add(relu(relu(conv2d(b, w2, Tensor(), 1, 0))), b);
  REQUIRE(no_grad[0].to_vector() == y.to_vector());
}
