// ONNX models out: a graph (an imported network, or a built-in one through builtin_graph) with
// the model's current weights as initializers (an imported network's original initializer names
// restored), written atomically. PyTorch and onnxruntime load the result; `onnx.checker` passes.
#pragma once
#include <string>

#include "framework/nn/module.h"
#include "models/graph_spec.h"

namespace stuckat {

// Writes `graph` with its constants' values taken from `model`'s state of the same name (the
// model built from this graph, possibly trained, pruned or with faults injected since).
// `output_shapes`: one per graph output (-1 for the symbolic batch), as ONNX requires.
void export_onnx(const GraphSpec& graph, const Module& model, const std::vector<Shape>& output_shapes,
                 const std::string& path, const std::string& what);

}  // namespace stuckat
