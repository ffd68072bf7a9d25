#include "models/graph_model.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/error.h"
#include "framework/autograd.h"

namespace stuckat {
namespace {

// How a constant is used decides whether it is trained: the weight and bias of Conv / Gemm /
// MatMul and the scale and shift of BatchNormalization are parameters, the rest buffers.
std::set<std::string> trained_constants(const GraphSpec& spec) {
  std::set<std::string> out;
  for (const GraphNode& n : spec.nodes) {
    const bool layer = n.op == "Conv" || n.op == "Gemm" || n.op == "MatMul";
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if ((layer && (i == 1 || i == 2)) || (n.op == "BatchNormalization" && (i == 1 || i == 2))) out.insert(n.inputs[i]);
  }
  return out;
}

}  // namespace

GraphModel::GraphModel(GraphSpec spec, const std::string& where) : spec_(std::move(spec)), where_(where) {
  if (spec_.inputs.empty()) throw_input_error("{}: the graph has no input", where_);
  if (spec_.outputs.empty()) throw_input_error("{}: the graph has no output", where_);
  std::map<std::string, int> slot;
  auto define = [&](const std::string& name, const std::string& by) {
    if (name.empty()) throw_input_error("{}: {} defines a value with an empty name", where_, by);
    if (!slot.emplace(name, slot_count_).second) throw_input_error("{}: value '{}' is defined twice ({})", where_, name, by);
    return slot_count_++;
  };
  for (const GraphInput& in : spec_.inputs) input_slots_.push_back(define(in.name, "a graph input"));
  const std::set<std::string> trained = trained_constants(spec_);
  // State in the order the nodes first read it (layers then appear in network order).
  std::map<std::string, size_t> first_use;
  for (size_t i = 0; i < spec_.nodes.size(); ++i)
    for (const std::string& v : spec_.nodes[i].inputs) first_use.emplace(v, i);
  std::stable_sort(spec_.constants.begin(), spec_.constants.end(), [&](const auto& a, const auto& b) {
    const auto ia = first_use.find(a.first), ib = first_use.find(b.first);
    return (ia == first_use.end() ? spec_.nodes.size() : ia->second) < (ib == first_use.end() ? spec_.nodes.size() : ib->second);
  });
  for (auto& [name, t] : spec_.constants) {
    const int s = define(name, "a constant");
    if (t.dtype() == DType::F32 && trained.count(name)) {
      t = register_parameter(name, t);
    } else {
      t = register_buffer(name, t);
    }
    constant_slots_.emplace_back(s, t);
  }
  std::vector<int> last_use(static_cast<size_t>(slot_count_), -1);
  for (size_t i = 0; i < spec_.nodes.size(); ++i) {
    const GraphNode& n = spec_.nodes[i];
    fns_.push_back(compile_graph_node(n, i, spec_.opset));
    std::vector<int> ins, outs;
    for (const std::string& v : n.inputs) {
      if (v.empty()) {
        ins.push_back(-1);
        continue;
      }
      const auto it = slot.find(v);
      if (it == slot.end())
        throw_input_error("{}: {} reads '{}', which no earlier node, input or constant defines", where_, describe_node(n, i), v);
      ins.push_back(it->second);
    }
    for (const std::string& v : n.outputs) {
      if (v.empty()) {
        outs.push_back(-1);
        continue;
      }
      outs.push_back(define(v, describe_node(n, i)));
      last_use.push_back(-1);
    }
    for (int s : ins)
      if (s >= 0) last_use[static_cast<size_t>(s)] = static_cast<int>(i);
    node_inputs_.push_back(ins);
    node_outputs_.push_back(outs);
  }
  for (const std::string& o : spec_.outputs) {
    const auto it = slot.find(o);
    if (it == slot.end()) throw_input_error("{}: graph output '{}' is not computed by any node", where_, o);
    output_slots_.push_back(it->second);
    last_use[static_cast<size_t>(it->second)] = static_cast<int>(spec_.nodes.size());  // kept to the end
  }
  std::set<int> constants;
  for (const auto& c : constant_slots_) constants.insert(c.first);
  node_frees_.resize(spec_.nodes.size());
  for (int s = 0; s < slot_count_; ++s)
    if (last_use[size_t(s)] >= 0 && last_use[size_t(s)] < static_cast<int>(spec_.nodes.size()) && !constants.count(s))
      node_frees_[size_t(last_use[size_t(s)])].push_back(s);
}

Shape GraphModel::input_shape(int64_t batch) const {
  Shape s = spec_.inputs[0].shape;
  for (int64_t& d : s)
    if (d < 0) d = batch;
  return s;
}

std::vector<Tensor> GraphModel::forward_all(const std::vector<Tensor>& inputs) {
  if (inputs.size() != input_slots_.size())
    throw_input_error("{}: the graph takes {} inputs, given {}", where_, input_slots_.size(), inputs.size());
  std::vector<Tensor> values(static_cast<size_t>(slot_count_));
  for (size_t i = 0; i < inputs.size(); ++i) values[size_t(input_slots_[i])] = inputs[i];
  for (const auto& [s, t] : constant_slots_) values[size_t(s)] = t;
  std::vector<Tensor> in;
  for (size_t i = 0; i < fns_.size(); ++i) {
    in.clear();
    for (int s : node_inputs_[i]) in.push_back(s >= 0 ? values[size_t(s)] : Tensor());
    std::vector<Tensor> out;
    try {
      out = fns_[i](in, is_training());
    } catch (const InputError&) {
      throw;
    } catch (const Error& e) {  // an op's own shape check: name the node
      throw_input_error("{}: {}: {}", where_, describe_node(spec_.nodes[i], i), e.what());
    }
    const std::vector<int>& outs = node_outputs_[i];
    for (size_t k = out.size(); k < outs.size(); ++k)
      if (outs[k] >= 0)
        throw_input_error("{}: {} gives {} outputs, {} named", where_, describe_node(spec_.nodes[i], i), out.size(), outs.size());
    for (size_t k = 0; k < outs.size() && k < out.size(); ++k)
      if (outs[k] >= 0) values[size_t(outs[k])] = std::move(out[k]);
    for (int s : node_frees_[i]) values[size_t(s)] = Tensor();
  }
  std::vector<Tensor> result;
  for (int s : output_slots_) result.push_back(values[size_t(s)]);
  return result;
}

Tensor GraphModel::forward(const Tensor& x) {
  std::vector<Tensor> inputs{x};
  if (input_slots_.size() != 1)
    throw_input_error("{}: the graph takes {} inputs; stuckat feeds one (the images)", where_, input_slots_.size());
  return forward_all(inputs).front();
}

void GraphModel::check_shapes() {
  NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();
  std::vector<Tensor> inputs;
  for (const GraphInput& in : spec_.inputs) {
    Shape s = in.shape;
    for (int64_t& d : s)
      if (d < 0) d = 1;
    graph_detail::check_value_size(fmt::format("{}: input '{}'", where_, in.name), s);
    inputs.push_back(Tensor::zeros(s, in.dtype));
  }
  forward_all(inputs);
  train(was_training);
}

}  // namespace stuckat
