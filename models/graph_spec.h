// A network as a graph of ONNX-style nodes: what an imported model is, independent of the file
// it came from. Values are named (a node's inputs name earlier nodes' outputs, graph inputs or
// constants); nodes are in topological order; attributes are JSON (ints, floats, lists, strings).
// The spec without its tensors is JSON (graph_spec_to_json), so a checkpoint of an imported model
// can carry its architecture in its metadata; the tensors travel as the checkpoint's tensors.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "framework/tensor.h"

namespace stuckat {

struct GraphNode {
  std::string op;                   // ONNX op type: "Conv", "Relu", ...
  std::string name;                 // the node's name in the file ("" when unnamed), for messages
  std::vector<std::string> inputs;  // value names; "" marks an absent optional input
  std::vector<std::string> outputs;
  nlohmann::json attrs = nlohmann::json::object();
};

struct GraphInput {
  std::string name;
  Shape shape;  // as declared; -1 for a symbolic (dynamic) dimension such as the batch
  DType dtype = DType::F32;  // f32 (images, activations) or i64 (shape operands)
};

struct GraphSpec {
  int64_t opset = 13;  // of the default ONNX domain
  std::vector<GraphInput> inputs;
  std::vector<std::string> outputs;
  std::vector<GraphNode> nodes;
  // Named constants (weights, batch-norm statistics, shape constants), f32 or i64.
  std::vector<std::pair<std::string, Tensor>> constants;
  // Weights renamed on import so that every conv/linear layer's weight is "<layer>.weight", the
  // convention faults, pruning and crossbar mapping use: (name here, name in the file).
  std::vector<std::pair<std::string, std::string>> renamed;
};

// Renames each Conv / Gemm / MatMul weight constant whose name does not end in ".weight" to
// "<name>.weight" (recorded in spec.renamed), so the layer is named by its initializer.
void name_layer_weights(GraphSpec& spec);
// The constants that are a layer's weight (the second input of Conv, Gemm, MatMul), in node order.
std::vector<std::string> layer_weight_names(const GraphSpec& spec);

// A node as messages name it: `Conv node "conv1"` or `Conv node #3` when unnamed.
std::string describe_node(const GraphNode& node, size_t index);

// The JSON of everything but the constants' values (their names are kept), and back: the
// constants' values come from `tensors` (a checkpoint's). Throws InputError naming `where` (a
// file) when the JSON is not a graph spec or a constant is missing from `tensors`.
nlohmann::json graph_spec_to_json(const GraphSpec& spec);
GraphSpec graph_spec_from_json(const nlohmann::json& j, const std::string& where,
                               const std::vector<std::pair<std::string, Tensor>>& tensors);

}  // namespace stuckat
