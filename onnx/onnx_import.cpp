#include "onnx/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "base/error.h"
#include "framework/autograd.h"
#include "models/graph_ops.h"
#include "onnx/onnx_tensor.h"

namespace stuckat {
namespace {

// Opsets before 7 are read too: the ops whose meaning changed since are refused where it matters
// (legacy broadcast axes, Reshape's shape attribute, Pad's paddings).
constexpr int64_t kMinOpset = 1, kMaxOpset = 17;
constexpr uint64_t kMaxFileBytes = uint64_t(2) << 30;  // protobuf's own limit

bool default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

// A node's attributes as JSON: numbers, strings and their lists. Tensor-valued attributes are
// read by Constant only; graphs (If, Loop) belong to unsupported ops.
nlohmann::json attributes(const onnx::NodeProto& n, const std::string& what) {
  nlohmann::json j = nlohmann::json::object();
  for (const onnx::AttributeProto& a : n.attribute()) {
    switch (a.type()) {
      case onnx::AttributeProto::FLOAT: j[a.name()] = a.f(); break;
      case onnx::AttributeProto::INT: j[a.name()] = a.i(); break;
      case onnx::AttributeProto::STRING: j[a.name()] = a.s(); break;
      case onnx::AttributeProto::FLOATS: j[a.name()] = std::vector<float>(a.floats().begin(), a.floats().end()); break;
      case onnx::AttributeProto::INTS: j[a.name()] = std::vector<int64_t>(a.ints().begin(), a.ints().end()); break;
      case onnx::AttributeProto::STRINGS:
        j[a.name()] = std::vector<std::string>(a.strings().begin(), a.strings().end());
        break;
      case onnx::AttributeProto::TENSOR: break;  // Constant's value, read where it is needed
      default: throw_input_error("{}: attribute '{}' has a type stuckat does not read ({})", what, a.name(), int(a.type()));
    }
  }
  return j;
}

// A Constant node's value (value, value_float(s), value_int(s)).
Tensor constant_value(const onnx::NodeProto& n, const std::string& what) {
  for (const onnx::AttributeProto& a : n.attribute()) {
    if (a.name() == "value") return tensor_from_onnx(a.t(), what);
    if (a.name() == "value_float") return Tensor::full({}, a.f());
    if (a.name() == "value_floats") {
      std::vector<float> v(a.floats().begin(), a.floats().end());
      return Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
    }
    if (a.name() == "value_int" || a.name() == "value_ints") {
      std::vector<int64_t> v = a.name() == "value_int" ? std::vector<int64_t>{a.i()} : std::vector<int64_t>(a.ints().begin(), a.ints().end());
      Tensor t = Tensor::empty(a.name() == "value_int" ? Shape{} : Shape{static_cast<int64_t>(v.size())}, DType::I64);
      std::copy(v.begin(), v.end(), t.data<int64_t>());
      return t;
    }
  }
  throw_input_error("{}: a Constant needs a value, value_float(s) or value_int(s) attribute", what);
}

GraphInput graph_input(const onnx::ValueInfoProto& v, const std::string& path) {
  if (!v.type().has_tensor_type()) throw_input_error("{}: graph input '{}' is not a tensor", path, v.name());
  const onnx::TypeProto::Tensor& tt = v.type().tensor_type();
  if (tt.elem_type() != onnx::TensorProto::FLOAT && tt.elem_type() != onnx::TensorProto::INT64)
    throw_input_error("{}: graph input '{}' has element type {}; stuckat reads float32 (and int64 shape) inputs", path,
                      v.name(), tt.elem_type());
  if (!tt.has_shape()) throw_input_error("{}: graph input '{}' declares no shape", path, v.name());
  GraphInput in{v.name(), {}, tt.elem_type() == onnx::TensorProto::FLOAT ? DType::F32 : DType::I64};
  for (const auto& d : tt.shape().dim()) in.shape.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : -1);
  return in;
}

}  // namespace

bool is_onnx_path(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
}

GraphSpec read_onnx_graph(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw_input_error("cannot open {}", path);
  const std::streamoff size = f.tellg();
  if (size <= 0) throw_input_error("{} is empty, not an ONNX model", path);
  if (static_cast<uint64_t>(size) >= kMaxFileBytes) throw_input_error("{} is larger than the 2 GiB an ONNX file can hold", path);
  f.seekg(0);
  std::string bytes(static_cast<size_t>(size), '\0');
  if (!f.read(&bytes[0], size)) throw_input_error("cannot read {}", path);
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) throw_input_error("{} is not an ONNX model (its protobuf does not parse; truncated?)", path);
  if (!model.has_graph() || model.graph().node_size() == 0) throw_input_error("{} is not an ONNX model (it has no graph nodes)", path);

  GraphSpec spec;
  spec.opset = 0;
  for (const onnx::OperatorSetIdProto& o : model.opset_import())
    if (default_domain(o.domain())) spec.opset = o.version();
  if (spec.opset < kMinOpset || spec.opset > kMaxOpset)
    throw_input_error("{} uses opset {} of the ONNX domain; stuckat reads opsets {} to {}", path, spec.opset, kMinOpset, kMaxOpset);

  const onnx::GraphProto& g = model.graph();
  std::set<std::string> constant_names;
  for (const onnx::TensorProto& t : g.initializer()) {
    const std::string what = fmt::format("{}: initializer '{}'", path, t.name());
    if (!constant_names.insert(t.name()).second) throw_input_error("{} is defined twice", what);
    spec.constants.emplace_back(t.name(), tensor_from_onnx(t, what));
  }
  for (const onnx::ValueInfoProto& v : g.input())
    if (!constant_names.count(v.name())) spec.inputs.push_back(graph_input(v, path));
  for (const onnx::ValueInfoProto& v : g.output()) spec.outputs.push_back(v.name());

  const std::vector<std::string>& supported = supported_graph_ops();
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto& n = g.node(i);
    GraphNode node{n.op_type(), n.name(), {n.input().begin(), n.input().end()}, {n.output().begin(), n.output().end()}, {}};
    const std::string what = fmt::format("{}: {}", path, describe_node(node, static_cast<size_t>(i)));
    if (!default_domain(n.domain()) || !std::binary_search(supported.begin(), supported.end(), n.op_type())) {
      std::string list;
      for (const std::string& o : supported) list += (list.empty() ? "" : ", ") + o;
      throw_input_error("{} is not supported{}; supported ops: {}", what,
                        default_domain(n.domain()) ? "" : " (domain " + n.domain() + ")", list);
    }
    if (n.op_type() == "Constant") {
      if (n.output_size() != 1 || !constant_names.insert(n.output(0)).second)
        throw_input_error("{} must define one new value", what);
      spec.constants.emplace_back(n.output(0), constant_value(n, what));
      continue;
    }
    // torch.onnx.export writes one initializer for equal tensors (the zero biases of a fresh
    // model, say) and an Identity of it for each further use. Each use gets its own copy instead:
    // the model as it was, with a parameter per layer, and no value that lives across the whole
    // graph (which would leave the sweep no place to cut the graph into stages).
    if (n.op_type() == "Identity" && n.input_size() == 1 && n.output_size() == 1 && constant_names.count(n.input(0))) {
      if (!constant_names.insert(n.output(0)).second) throw_input_error("{} must define one new value", what);
      const auto source = std::find_if(spec.constants.begin(), spec.constants.end(),
                                       [&](const auto& c) { return c.first == n.input(0); });
      spec.constants.emplace_back(n.output(0), source->second.clone());
      continue;
    }
    node.attrs = attributes(n, what);
    spec.nodes.push_back(std::move(node));
  }
  // Optional outputs nothing reads (a training-mode export's batch-norm statistics, a dropout
  // mask) are dropped, so the ops that do not compute them still run the graph.
  std::set<std::string> read(spec.outputs.begin(), spec.outputs.end());
  for (const GraphNode& n : spec.nodes) read.insert(n.inputs.begin(), n.inputs.end());
  for (GraphNode& n : spec.nodes)
    for (size_t k = 1; k < n.outputs.size(); ++k)
      if (!read.count(n.outputs[k])) n.outputs[k].clear();
  if (spec.inputs.empty()) throw_input_error("{} has no graph input (all inputs are initializers)", path);
  if (spec.outputs.empty()) throw_input_error("{} has no graph output", path);
  return spec;
}

void fold_shape_constants(GraphSpec& spec, const std::string& where) {
  std::map<std::string, Tensor> constants(spec.constants.begin(), spec.constants.end());
  std::vector<GraphNode> kept;
  NoGradGuard no_grad;
  for (size_t i = 0; i < spec.nodes.size(); ++i) {
    const GraphNode& n = spec.nodes[i];
    bool foldable = is_shape_op(n.op) && !n.inputs.empty();
    for (const std::string& in : n.inputs) {
      if (in.empty()) continue;
      const auto it = constants.find(in);
      foldable = foldable && it != constants.end() && (it->second.dtype() == DType::I64 || n.op == "Shape");
    }
    if (!foldable) {
      kept.push_back(n);
      continue;
    }
    std::vector<Tensor> in;
    for (const std::string& v : n.inputs) in.push_back(v.empty() ? Tensor() : constants.at(v));
    std::vector<Tensor> out;
    try {
      out = compile_graph_node(n, i, spec.opset)(in, false);
    } catch (const InputError& e) {
      throw_input_error("{}: {}", where, e.what());
    }
    for (size_t k = 0; k < n.outputs.size() && k < out.size(); ++k) {
      if (n.outputs[k].empty()) continue;
      if (!constants.emplace(n.outputs[k], out[k]).second) throw_input_error("{}: value '{}' is defined twice", where, n.outputs[k]);
      spec.constants.emplace_back(n.outputs[k], out[k]);
    }
  }
  spec.nodes = std::move(kept);
  // Only the constants something still reads.
  std::set<std::string> used(spec.outputs.begin(), spec.outputs.end());
  for (const GraphNode& n : spec.nodes) used.insert(n.inputs.begin(), n.inputs.end());
  spec.constants.erase(std::remove_if(spec.constants.begin(), spec.constants.end(), [&](const auto& c) { return !used.count(c.first); }),
                       spec.constants.end());
}

std::shared_ptr<GraphModel> import_onnx(const std::string& path) {
  GraphSpec spec = read_onnx_graph(path);
  fold_shape_constants(spec, path);
  name_layer_weights(spec);
  if (spec.inputs.size() != 1 || spec.inputs[0].dtype != DType::F32)
    throw_input_error("{} takes {} inputs; stuckat feeds models one float32 input (the images)", path, spec.inputs.size());
  auto model = std::make_shared<GraphModel>(std::move(spec), path);
  model->check_shapes();
  return model;
}

}  // namespace stuckat
