#include "onnx/onnx_export.h"

#include <onnx/onnx_pb.h>

#include <map>

#include "base/error.h"
#include "framework/io/atomic_file.h"
#include "onnx/onnx_tensor.h"

namespace stuckat {
namespace {

void add_attribute(onnx::NodeProto& node, const std::string& key, const nlohmann::json& v) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(key);
  if (v.is_number_integer()) {
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v.get<int64_t>());
  } else if (v.is_number()) {
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v.get<float>());
  } else if (v.is_string()) {
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v.get<std::string>());
  } else if (v.is_array() && !v.empty() && v[0].is_string()) {
    a->set_type(onnx::AttributeProto::STRINGS);
    for (const auto& e : v) a->add_strings(e.get<std::string>());
  } else if (v.is_array() && !v.empty() && !v[0].is_number_integer()) {
    a->set_type(onnx::AttributeProto::FLOATS);
    for (const auto& e : v) a->add_floats(e.get<float>());
  } else {
    STUCKAT_CHECK(v.is_array(), "export_onnx: attribute {} is {}", key, v.dump());
    a->set_type(onnx::AttributeProto::INTS);
    for (const auto& e : v) a->add_ints(e.get<int64_t>());
  }
}

void value_info(onnx::ValueInfoProto* v, const std::string& name, DType dtype, const Shape* shape) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(dtype == DType::F32 ? onnx::TensorProto::FLOAT : onnx::TensorProto::INT64);
  if (!shape) return;
  auto* s = tt->mutable_shape();
  for (int64_t d : *shape) {
    if (d < 0) s->add_dim()->set_dim_param("N");
    else s->add_dim()->set_dim_value(d);
  }
}

}  // namespace

void export_onnx(const GraphSpec& graph, const Module& model, const std::vector<Shape>& output_shapes,
                 const std::string& path, const std::string& what) {
  STUCKAT_CHECK(output_shapes.size() == graph.outputs.size(), "export_onnx: {} output shapes for {} outputs",
                output_shapes.size(), graph.outputs.size());
  std::map<std::string, std::string> original;  // name here -> name in the file it came from
  for (const auto& [here, file] : graph.renamed) original[here] = file;
  auto file_name = [&](const std::string& n) {
    const auto it = original.find(n);
    return it == original.end() ? n : it->second;
  };
  std::map<std::string, Tensor> state;
  for (const auto& [name, t] : model.named_state()) state[name] = t;

  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("stuckat");
  onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(std::max<int64_t>(graph.opset, 7));
  onnx::GraphProto& g = *m.mutable_graph();
  g.set_name("stuckat");
  for (const GraphInput& in : graph.inputs) value_info(g.add_input(), in.name, in.dtype, &in.shape);
  for (size_t i = 0; i < graph.outputs.size(); ++i) value_info(g.add_output(), graph.outputs[i], DType::F32, &output_shapes[i]);
  for (const auto& [name, constant] : graph.constants) {
    const auto it = state.find(name);  // the model's current value (trained, pruned, faulted)
    tensor_to_onnx(it != state.end() ? it->second : constant, file_name(name), *g.add_initializer());
  }
  for (const GraphNode& n : graph.nodes) {
    onnx::NodeProto* node = g.add_node();
    node->set_op_type(n.op);
    node->set_name(n.name);
    for (const std::string& in : n.inputs) node->add_input(in.empty() ? in : file_name(in));
    for (const std::string& out : n.outputs) node->add_output(out);
    for (const auto& [key, v] : n.attrs.items()) add_attribute(*node, key, v);
  }
  std::string bytes;
  STUCKAT_CHECK(m.SerializeToString(&bytes), "export_onnx: protobuf serialisation failed for {}", path);
  write_file_atomically(path, bytes, what);
}

}  // namespace stuckat
