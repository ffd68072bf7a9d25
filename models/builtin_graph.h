// The built-in architectures as graphs (ONNX op types, PyTorch's state names), so that a built-in
// model can be exported to ONNX and run again as an imported graph with the same ops, bit for bit.
#pragma once
#include "framework/nn/module.h"
#include "models/graph_spec.h"
#include "models/model_zoo.h"

namespace stuckat {

// `model` (built by make_model(spec)) as a graph whose constants are copies of its weights, biases
// and batch-norm statistics; input "input" of shape (N, c, h, w) with a symbolic batch, output "logits".
GraphSpec builtin_graph(const ModelSpec& spec, const Module& model);

}  // namespace stuckat
