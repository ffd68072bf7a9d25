#include "models/graph_model.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "base/error.h"
#include "framework/autograd.h"
#include "framework/nn/layers.h"
#include "framework/ops.h"

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
  make_layer_modules();
  for (int s = 0; s < slot_count_; ++s)
    if (last_use[size_t(s)] >= 0 && last_use[size_t(s)] < static_cast<int>(spec_.nodes.size()) && !constants.count(s))
      node_frees_[size_t(last_use[size_t(s)])].push_back(s);
  in_place_.assign(spec_.nodes.size(), 0);
  for (size_t i = 0; i < spec_.nodes.size(); ++i) {
    if (!graph_detail::in_place_capable(spec_.nodes[i]) || node_inputs_[i].empty() || node_outputs_[i].empty()) continue;
    const int s0 = node_inputs_[i][0];
    const auto& frees = node_frees_[i];
    const bool graph_input = std::find(input_slots_.begin(), input_slots_.end(), s0) != input_slots_.end();
    in_place_[i] = s0 >= 0 && !graph_input && std::find(frees.begin(), frees.end(), s0) != frees.end();
  }
}

bool GraphModel::is_layer_op(const std::string& op) { return op == "Conv" || op == "Gemm" || op == "MatMul"; }

void GraphModel::make_layer_modules() {
  // A Conv that conv2d computes (one group, no dilation, square kernel, equal strides and pads)
  // or a Gemm that linear computes (y = x W^T + b) gets a Conv2d / Linear sharing the graph's
  // weight and bias, so the sweep treats it as it treats the built-in models' layers.
  std::map<std::string, Tensor> constant;
  for (const auto& [name, t] : spec_.constants) constant[name] = t;
  auto find = [&](const GraphNode& n, size_t i) -> Tensor {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return Tensor();
    const auto it = constant.find(n.inputs[i]);
    return it == constant.end() ? Tensor() : it->second;
  };
  layer_modules_.assign(spec_.nodes.size(), nullptr);
  for (size_t i = 0; i < spec_.nodes.size(); ++i) {
    const GraphNode& n = spec_.nodes[i];
    const Tensor w = find(n, 1), b = find(n, 2);
    const bool has_b = n.inputs.size() > 2 && !n.inputs[2].empty();
    if (!w.defined() || w.dtype() != DType::F32 || (has_b && (!b.defined() || b.dim() != 1 || b.size(0) != w.size(0)))) continue;
    auto ints = [&](const char* key, std::vector<int64_t> def) {
      const auto it = n.attrs.find(key);
      if (it == n.attrs.end() || !it->is_array()) return def;
      std::vector<int64_t> v;
      for (const auto& e : *it) v.push_back(e.is_number_integer() ? e.get<int64_t>() : -1);
      return v;
    };
    auto one = [&](const char* key, double def) {
      const auto it = n.attrs.find(key);
      return it == n.attrs.end() || !it->is_number() ? def : it->get<double>();
    };
    if (n.op == "Conv" && w.dim() == 4 && w.size(2) == w.size(3)) {
      const std::vector<int64_t> st = ints("strides", {1, 1}), pads = ints("pads", {0, 0, 0, 0}), dil = ints("dilations", {1, 1});
      const auto pad_it = n.attrs.find("auto_pad");
      const bool explicit_pads = pad_it == n.attrs.end() || *pad_it == "NOTSET" || *pad_it == "VALID";
      const bool plain = one("group", 1) == 1 && explicit_pads && st.size() == 2 && st[0] == st[1] && st[0] >= 1 &&
                         dil == std::vector<int64_t>{1, 1} && pads.size() == 4 && pads[0] >= 0 &&
                         std::all_of(pads.begin(), pads.end(), [&](int64_t p) { return p == pads[0]; });
      if (!plain) continue;
      auto conv = std::make_shared<Conv2d>(Init{}, w.size(1), w.size(0), w.size(2), st[0], pads[0], false);
      conv->weight = w;
      conv->bias = has_b ? b : Tensor();
      layer_modules_[i] = conv;
    } else if (n.op == "Gemm" && w.dim() == 2 && one("transA", 0) == 0 && one("transB", 0) == 1 && one("alpha", 1) == 1 &&
               (!has_b || one("beta", 1) == 1)) {
      auto lin = std::make_shared<Linear>(Init{}, w.size(1), w.size(0), false);
      lin->weight = w;
      lin->bias = has_b ? b : Tensor();
      layer_modules_[i] = lin;
    }
  }
}

Shape GraphModel::input_shape(int64_t batch) const {
  Shape s = spec_.inputs[0].shape;
  for (int64_t& d : s)
    if (d < 0) d = batch;
  return s;
}

namespace {

// STUCKAT_GRAPH_TRACE=1: thread-time per op type of every graph run, printed at exit (stderr).
struct GraphTrace {
  bool on = std::getenv("STUCKAT_GRAPH_TRACE") != nullptr;
  std::map<std::string, std::pair<double, int64_t>> by_op;  // seconds, calls
  ~GraphTrace() {
    if (!on || by_op.empty()) return;
    double total = 0;
    for (const auto& [op, v] : by_op) total += v.first;
    std::fprintf(stderr, "graph trace: %.3f s in graph nodes\n", total);
    for (const auto& [op, v] : by_op)
      std::fprintf(stderr, "  %-20s %9.3f s %5.1f%% %8lld calls\n", op.c_str(), v.first, 100 * v.first / total,
                   static_cast<long long>(v.second));
  }
};
GraphTrace& graph_trace() {
  static GraphTrace trace;
  return trace;
}

}  // namespace

void GraphModel::run_nodes(std::vector<Tensor>& values, size_t begin, size_t end) {
  std::vector<Tensor> in;
  GraphTrace& trace = graph_trace();
  const bool inference = !grad_enabled();
  for (size_t i = begin; i < end; ++i) {
    const auto t0 = trace.on ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    if (inference && in_place_[i]) {
      // Inference: ReLU / ReLU6 over a value nothing else holds (not a stage's cached activation,
      // not a view) is written in place, saving a pass's allocation and its page faults.
      Tensor x = std::move(values[size_t(node_inputs_[i][0])]);
      if (x.defined() && x.impl_ptr().use_count() == 1 && x.storage().use_count() == 1 && x.is_contiguous() &&
          x.dtype() == DType::F32 && !x.requires_grad()) {
        in.clear();
        for (int s : node_inputs_[i]) in.push_back(s >= 0 ? values[size_t(s)] : Tensor());
        graph_detail::run_in_place(spec_.nodes[i], i, spec_.opset, in, x);
        values[size_t(node_outputs_[i][0])] = std::move(x);
        for (int s : node_frees_[i]) values[size_t(s)] = Tensor();
        if (trace.on) {
          auto& slot = trace.by_op[spec_.nodes[i].op + " (in place)"];
          slot.first += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          slot.second += 1;
        }
        continue;
      }
      values[size_t(node_inputs_[i][0])] = std::move(x);
    }
    in.clear();
    for (int s : node_inputs_[i]) in.push_back(s >= 0 ? values[size_t(s)] : Tensor());
    std::vector<Tensor> out;
    try {
      out = fns_[i](in, is_training());
      if (trace.on) {
        const GraphNode& n = spec_.nodes[i];
        const auto group = n.attrs.find("group");
        const bool grouped = n.op == "Conv" && group != n.attrs.end() && group->is_number_integer() && group->get<int64_t>() > 1;
        auto& slot = trace.by_op[grouped ? "Conv (grouped)" : n.op];
        slot.first += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        slot.second += 1;
      }
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
}

std::vector<Tensor> GraphModel::fresh_values() const {
  std::vector<Tensor> values(static_cast<size_t>(slot_count_));
  for (const auto& [s, t] : constant_slots_) values[size_t(s)] = t;
  return values;
}

std::vector<Tensor> GraphModel::forward_all(const std::vector<Tensor>& inputs) {
  if (inputs.size() != input_slots_.size())
    throw_input_error("{}: the graph takes {} inputs, given {}", where_, input_slots_.size(), inputs.size());
  std::vector<Tensor> values = fresh_values();
  for (size_t i = 0; i < inputs.size(); ++i) values[size_t(input_slots_[i])] = inputs[i];
  run_nodes(values, 0, fns_.size());
  std::vector<Tensor> result;
  for (int s : output_slots_) result.push_back(values[size_t(s)]);
  return result;
}

bool GraphModel::normalises_over_batch() const {
  for (const GraphNode& n : spec_.nodes)
    if (n.op == "BatchNormalization") return true;
  return false;
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

namespace stuckat {

void GraphModel::describe_after(ForwardStage& st, size_t begin, size_t end, int layer_out, int out_slot) {
  // Per channel: element-wise activations, pooling and (eval-mode) batch norm treat each channel
  // of the layer's output on its own, and a final Flatten (axis 1) lays the channels' blocks out
  // in order, so `after` on a subset of channels gives those channels' part of its output.
  std::set<int> constants;
  for (const auto& c : constant_slots_) constants.insert(c.first);
  std::vector<std::string> ops;
  for (size_t i = begin; i < end; ++i) {
    const GraphNode& n = spec_.nodes[i];
    const bool elementwise = n.op == "Relu" || n.op == "Clip" || n.op == "LeakyRelu" || n.op == "Sigmoid" || n.op == "Tanh" ||
                             n.op == "HardSigmoid" || n.op == "HardSwish" || n.op == "Identity" || n.op == "Dropout";
    const bool per_channel = elementwise || n.op == "MaxPool" || n.op == "AveragePool" || n.op == "BatchNormalization";
    const auto axis = n.attrs.find("axis");
    const bool flatten = n.op == "Flatten" && i + 1 == end &&
                         (axis == n.attrs.end() || (axis->is_number_integer() && axis->get<int64_t>() == 1));
    // Reads the running value first, constants after it (Clip's bounds, batch norm's parameters).
    bool fits = !node_inputs_[i].empty() && !constants.count(node_inputs_[i][0]);
    for (size_t k = 1; k < node_inputs_[i].size(); ++k) fits = fits && (node_inputs_[i][k] < 0 || constants.count(node_inputs_[i][k]));
    if (!(per_channel || flatten) || !fits) return;
    ops.push_back(n.op);
  }
  st.after_channels = [this, begin, end, layer_out, out_slot](const Tensor& y, const std::vector<int64_t>& c) {
    std::vector<Tensor> values = fresh_values();
    values[size_t(layer_out)] = y;
    std::vector<Tensor> in;
    for (size_t i = begin; i < end; ++i) {
      in.clear();
      for (int s : node_inputs_[i]) in.push_back(s >= 0 ? values[size_t(s)] : Tensor());
      if (spec_.nodes[i].op == "BatchNormalization")  // those channels' parameters and statistics
        for (size_t k = 1; k < in.size() && k <= 4; ++k) in[k] = select_index(in[k], 0, c);
      std::vector<Tensor> out = fns_[i](in, false);
      values[size_t(node_outputs_[i][0])] = std::move(out[0]);
    }
    return values[size_t(out_slot)];
  };
  // ReLU, then an optional plain max pool in either order, then an optional flatten: the sweep's
  // fused pass, and relu_max_pool2d for `after` (the same values in one pass).
  std::vector<std::string> core = ops;
  if (!core.empty() && core.back() == "Flatten") core.pop_back();
  const bool relu_only = core == std::vector<std::string>{"Relu"};
  const bool relu_pool = core.size() == 2 && ((core[0] == "Relu" && core[1] == "MaxPool") || (core[0] == "MaxPool" && core[1] == "Relu"));
  if (!relu_only && !relu_pool) return;
  if (relu_only) {
    st.after_relu_pool.matches = true;
    return;
  }
  const GraphNode& pool = spec_.nodes[begin + (core[0] == "MaxPool" ? 0 : 1)];
  auto ints = [&](const char* key) {
    std::vector<int64_t> v;
    const auto it = pool.attrs.find(key);
    if (it != pool.attrs.end() && it->is_array())
      for (const auto& e : *it) v.push_back(e.is_number_integer() ? e.get<int64_t>() : -1);
    return v;
  };
  const std::vector<int64_t> k = ints("kernel_shape"), stride = ints("strides"), pads = ints("pads"), dil = ints("dilations");
  const auto ceil = pool.attrs.find("ceil_mode"), auto_pad = pool.attrs.find("auto_pad");
  const bool plain = k.size() == 2 && k[0] == k[1] && (stride.empty() || (stride.size() == 2 && stride[0] == stride[1])) &&
                     (pads.empty() || std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) &&
                     (dil.empty() || dil == std::vector<int64_t>{1, 1}) && (ceil == pool.attrs.end() || *ceil == 0) &&
                     (auto_pad == pool.attrs.end() || *auto_pad == "NOTSET" || *auto_pad == "VALID");
  if (!plain) return;
  ForwardStage::ReluPool& rp = st.after_relu_pool;
  rp.matches = true;
  rp.pool_k = k[0];
  rp.pool_stride = stride.empty() ? 1 : stride[0];
  rp.pool_first = core[0] == "MaxPool";
  const bool flat = ops.back() == "Flatten";
  st.after = [rp, flat](const Tensor& y) {
    Tensor z = relu_max_pool2d(y, rp.pool_k, rp.pool_stride, rp.pool_first);
    return flat ? flatten(z, 1) : z;
  };
}

std::vector<ForwardStage> GraphModel::forward_stages() {
  // Cut where exactly one activation is live (what the sweep hands from stage to stage): before
  // each layer node that reads it, so a stage is a layer and the nodes after it, up to the next
  // such cut. A branch (residual add, concat) keeps its nodes in one stage.
  const size_t n = fns_.size();
  if (input_slots_.size() != 1 || output_slots_.size() != 1 || n == 0) return Module::forward_stages();
  std::vector<int> last_read(static_cast<size_t>(slot_count_), -1), made_by(static_cast<size_t>(slot_count_), -1);
  for (size_t i = 0; i < n; ++i) {
    for (int s : node_inputs_[i])
      if (s >= 0) last_read[size_t(s)] = static_cast<int>(i);
    for (int s : node_outputs_[i])
      if (s >= 0) made_by[size_t(s)] = static_cast<int>(i);
  }
  last_read[size_t(output_slots_[0])] = static_cast<int>(n);
  std::set<int> constants;
  for (const auto& c : constant_slots_) constants.insert(c.first);
  // Before node i, the live slots are those made earlier (or the graph input) and read at or after i.
  struct Cut {
    size_t node;
    int slot;
  };
  std::vector<Cut> cuts{{0, input_slots_[0]}};
  for (size_t i = 1; i < n; ++i) {
    int live = -1, count = 0;
    for (int s = 0; s < slot_count_; ++s) {
      if (constants.count(s) || last_read[size_t(s)] < static_cast<int>(i)) continue;
      const bool before = s == input_slots_[0] || (made_by[size_t(s)] >= 0 && made_by[size_t(s)] < static_cast<int>(i));
      if (before) live = s, ++count;
    }
    // (A layer's first input is an activation, never an int64 shape value.)
    if (count == 1 && is_layer_op(spec_.nodes[i].op) && !node_inputs_[i].empty() && node_inputs_[i][0] == live)
      cuts.push_back({i, live});
  }
  std::vector<ForwardStage> stages;
  for (size_t k = 0; k < cuts.size(); ++k) {
    const size_t begin = cuts[k].node, end = k + 1 < cuts.size() ? cuts[k + 1].node : n;
    const int in_slot = cuts[k].slot, out_slot = k + 1 < cuts.size() ? cuts[k + 1].slot : output_slots_[0];
    ForwardStage st;
    for (size_t i = begin; i < end; ++i)
      if (is_layer_op(spec_.nodes[i].op) && spec_.nodes[i].inputs.size() >= 2 && constants.count(node_inputs_[i][1])) {
        const std::string& w = spec_.nodes[i].inputs[1];
        st.layers.push_back(w.size() > 7 && w.compare(w.size() - 7, 7, ".weight") == 0 ? w.substr(0, w.size() - 7) : w);
      }
    st.run = [this, begin, end, in_slot, out_slot](const Tensor& x) {
      std::vector<Tensor> values = fresh_values();
      values[size_t(in_slot)] = x;
      run_nodes(values, begin, end);
      return values[size_t(out_slot)];
    };
    // The split: the stage begins with its one layer, and the nodes after it read only its output.
    bool split = layer_modules_[begin] != nullptr && st.layers.size() == 1;
    const int layer_out = node_outputs_[begin].empty() ? -1 : node_outputs_[begin][0];
    for (size_t i = begin + 1; split && i < end; ++i)
      for (int s : node_inputs_[i]) split = split && s != in_slot;
    if (split && layer_out >= 0) {
      st.layer = layer_modules_[begin].get();
      st.after = [this, begin, end, layer_out, out_slot](const Tensor& y) {
        if (begin + 1 == end) return y;
        std::vector<Tensor> values = fresh_values();
        values[size_t(layer_out)] = y;
        run_nodes(values, begin + 1, end);
        return values[size_t(out_slot)];
      };
      describe_after(st, begin + 1, end, layer_out, out_slot);
    }
    stages.push_back(std::move(st));
  }
  return stages;
}

}  // namespace stuckat
