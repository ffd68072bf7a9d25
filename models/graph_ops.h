// The ops a graph model runs: each supported ONNX op type becomes a function of its input values
// (f32 tensors, or i64 tensors for shape arithmetic), its attributes parsed once. The f32 ops are
// the framework's differentiable ops, so an imported model also trains.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "framework/tensor.h"
#include "models/graph_spec.h"

namespace stuckat {

// Runs one node: inputs in the node's order (an undefined Tensor for an absent optional input),
// returns its outputs. `training` selects batch statistics for BatchNormalization.
using GraphNodeFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs, bool training)>;

// The op types compile_graph_node accepts, sorted.
const std::vector<std::string>& supported_graph_ops();

// Parses the node's attributes for `opset`. Throws InputError naming the node (`index` in the
// graph) for an unsupported op type or attribute value; the error for an unsupported op lists the
// supported ones.
GraphNodeFn compile_graph_node(const GraphNode& node, size_t index, int64_t opset);

// True for the ops that only compute shapes (i64 in, i64 out) when fed constants: such nodes are
// folded into constants on import.
bool is_shape_op(const std::string& op);

namespace graph_detail {
// The i64 ops (Shape, Gather, Slice, Cast, Squeeze, Unsqueeze, Concat, Reshape, arithmetic) for
// shape computations; null when `node` is not such an op on i64 values.
GraphNodeFn compile_int_node(const GraphNode& node, size_t index, int64_t opset);
// The values of a small i64 tensor (shape operands), checked to be i64 on the CPU.
std::vector<int64_t> int_values(const Tensor& t, const std::string& what);
Tensor int_tensor(const std::vector<int64_t>& values, const Shape& shape);
// Attributes with defaults; a wrong type is an InputError naming the node.
int64_t attr_int(const GraphNode& n, size_t index, const char* key, int64_t def);
float attr_float(const GraphNode& n, size_t index, const char* key, float def);
std::vector<int64_t> attr_ints(const GraphNode& n, size_t index, const char* key, std::vector<int64_t> def);
// Relu and Clip can overwrite their input in inference (graph_model.cpp does so when the input is
// read by nothing else): run_in_place writes the node's output over x, the other inputs in `in`.
bool in_place_capable(const GraphNode& n);
void run_in_place(const GraphNode& n, size_t index, int64_t opset, const std::vector<Tensor>& in, Tensor& x);
std::string attr_string(const GraphNode& n, size_t index, const char* key, const std::string& def);
// The most elements any value of a graph may hold (default 2^28, 1 GiB of f32): a node whose
// output would be larger is refused before anything is allocated (a file's attributes, such as
// pads, must not decide how much memory a run takes). Tests and fuzzing lower it.
int64_t& max_value_elements();
// Throws InputError naming `what` when a value of shape `dims` would pass max_value_elements().
void check_value_size(const std::string& what, const Shape& dims);
// A dimension index in [-rank, rank) made non-negative, or an InputError.
int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what);
}  // namespace graph_detail

}  // namespace stuckat
