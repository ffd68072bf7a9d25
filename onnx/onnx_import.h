// ONNX models in: a .onnx file (opset 7-17 of the default domain) read with the ONNX project's
// protobuf definitions (Debian's libonnx-dev) into a GraphSpec, its shape arithmetic folded, its
// layer weights named "<initializer>.weight" where they are not already, and built as a
// GraphModel whose shapes are checked by one run on the declared input shape.
#pragma once
#include <memory>
#include <string>

#include "models/graph_model.h"
#include "models/graph_spec.h"

namespace stuckat {

// True for a path ending in ".onnx" (how commands tell an ONNX model from a checkpoint).
bool is_onnx_path(const std::string& path);

// The file as a graph, constants included, nothing folded or renamed. Throws InputError (one
// sentence naming the file) when it is not an ONNX model, is truncated, keeps its weights in
// external files, uses another opset or domain, or has constants of an unsupported type.
GraphSpec read_onnx_graph(const std::string& path);

// Evaluates the nodes whose inputs are all int64 constants (shape arithmetic) into constants and
// drops constants no node reads.
void fold_shape_constants(GraphSpec& spec, const std::string& where);

// read_onnx_graph + fold_shape_constants + name_layer_weights, built and shape-checked.
std::shared_ptr<GraphModel> import_onnx(const std::string& path);

}  // namespace stuckat
