#include "models/graph_spec.h"

#include <algorithm>
#include <set>

#include "base/error.h"

namespace stuckat {

std::string describe_node(const GraphNode& node, size_t index) {
  if (node.name.empty()) return fmt::format("{} node #{}", node.op, index);
  return fmt::format("{} node \"{}\"", node.op, node.name);
}

nlohmann::json graph_spec_to_json(const GraphSpec& spec) {
  nlohmann::json j;
  j["opset"] = spec.opset;
  j["inputs"] = nlohmann::json::array();
  for (const GraphInput& in : spec.inputs)
    j["inputs"].push_back({{"name", in.name}, {"shape", in.shape}, {"dtype", dtype_name(in.dtype)}});
  j["outputs"] = spec.outputs;
  j["nodes"] = nlohmann::json::array();
  for (const GraphNode& n : spec.nodes)
    j["nodes"].push_back({{"op", n.op}, {"name", n.name}, {"inputs", n.inputs}, {"outputs", n.outputs}, {"attrs", n.attrs}});
  j["constants"] = nlohmann::json::array();
  for (const auto& c : spec.constants) j["constants"].push_back(c.first);
  j["renamed"] = nlohmann::json::array();
  for (const auto& [here, file] : spec.renamed) j["renamed"].push_back({here, file});
  return j;
}

std::vector<std::string> layer_weight_names(const GraphSpec& spec) {
  std::set<std::string> constants;
  for (const auto& c : spec.constants) constants.insert(c.first);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const GraphNode& n : spec.nodes)
    if ((n.op == "Conv" || n.op == "Gemm" || n.op == "MatMul") && n.inputs.size() >= 2 && constants.count(n.inputs[1]) &&
        seen.insert(n.inputs[1]).second)
      out.push_back(n.inputs[1]);
  return out;
}

void name_layer_weights(GraphSpec& spec) {
  const std::string suffix = ".weight";
  std::set<std::string> names;
  for (const auto& c : spec.constants) names.insert(c.first);
  for (const std::string& w : layer_weight_names(spec)) {
    if (w.size() > suffix.size() && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0) continue;
    std::string renamed = w + suffix;
    while (names.count(renamed)) renamed += "_";  // never collide with another constant
    names.insert(renamed);
    for (auto& c : spec.constants)
      if (c.first == w) c.first = renamed;
    for (GraphNode& n : spec.nodes)
      for (std::string& in : n.inputs)
        if (in == w) in = renamed;
    spec.renamed.emplace_back(renamed, w);
  }
}

GraphSpec graph_spec_from_json(const nlohmann::json& j, const std::string& where,
                               const std::vector<std::pair<std::string, Tensor>>& tensors) {
  auto bad = [&](const std::string& what) -> void {
    throw_input_error("{}: the recorded graph is not valid ({})", where, what);
  };
  if (!j.is_object()) bad("not a JSON object");
  GraphSpec spec;
  try {
    spec.opset = j.at("opset").get<int64_t>();
    for (const auto& in : j.at("inputs")) {
      const std::string dtype = in.at("dtype").get<std::string>();
      if (dtype != dtype_name(DType::F32) && dtype != dtype_name(DType::I64)) bad("an input's dtype " + dtype);
      spec.inputs.push_back({in.at("name").get<std::string>(), in.at("shape").get<Shape>(),
                             dtype == dtype_name(DType::F32) ? DType::F32 : DType::I64});
    }
    spec.outputs = j.at("outputs").get<std::vector<std::string>>();
    for (const auto& n : j.at("nodes")) {
      GraphNode node;
      node.op = n.at("op").get<std::string>();
      node.name = n.at("name").get<std::string>();
      node.inputs = n.at("inputs").get<std::vector<std::string>>();
      node.outputs = n.at("outputs").get<std::vector<std::string>>();
      node.attrs = n.at("attrs");
      if (!node.attrs.is_object()) bad("a node's attrs is not an object");
      spec.nodes.push_back(std::move(node));
    }
    for (const auto& c : j.at("constants")) {
      const std::string name = c.get<std::string>();
      const auto it = std::find_if(tensors.begin(), tensors.end(), [&](const auto& t) { return t.first == name; });
      if (it == tensors.end()) throw_input_error("{}: the recorded graph needs the tensor '{}', which is missing", where, name);
      spec.constants.emplace_back(name, it->second);
    }
    for (const auto& r : j.at("renamed")) spec.renamed.emplace_back(r.at(0).get<std::string>(), r.at(1).get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    bad(e.what());
  }
  return spec;
}

}  // namespace stuckat
