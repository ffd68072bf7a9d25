// ONNX op types as framework ops: attributes parsed once per node (with the opset's defaults and
// the inputs that older opsets gave as attributes), shapes checked when the node runs.
#include "models/graph_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "framework/ops.h"
#include "framework/ops/conv_general.h"
#include "framework/ops/elementwise_ops.h"
#include "framework/ops/tensor_ops.h"

namespace stuckat {
namespace graph_detail {

namespace {
const nlohmann::json* find_attr(const GraphNode& n, const char* key) {
  const auto it = n.attrs.find(key);
  return it == n.attrs.end() ? nullptr : &*it;
}
}  // namespace

int64_t attr_int(const GraphNode& n, size_t index, const char* key, int64_t def) {
  const nlohmann::json* a = find_attr(n, key);
  if (!a) return def;
  if (!a->is_number_integer()) throw_input_error("{}: attribute '{}' must be an integer", describe_node(n, index), key);
  return a->get<int64_t>();
}

float attr_float(const GraphNode& n, size_t index, const char* key, float def) {
  const nlohmann::json* a = find_attr(n, key);
  if (!a) return def;
  if (!a->is_number()) throw_input_error("{}: attribute '{}' must be a number", describe_node(n, index), key);
  return a->get<float>();
}

std::vector<int64_t> attr_ints(const GraphNode& n, size_t index, const char* key, std::vector<int64_t> def) {
  const nlohmann::json* a = find_attr(n, key);
  if (!a) return def;
  std::vector<int64_t> v;
  if (!a->is_array()) throw_input_error("{}: attribute '{}' must be a list of integers", describe_node(n, index), key);
  for (const auto& e : *a) {
    if (!e.is_number_integer()) throw_input_error("{}: attribute '{}' must be a list of integers", describe_node(n, index), key);
    v.push_back(e.get<int64_t>());
  }
  return v;
}

std::string attr_string(const GraphNode& n, size_t index, const char* key, const std::string& def) {
  const nlohmann::json* a = find_attr(n, key);
  if (!a) return def;
  if (!a->is_string()) throw_input_error("{}: attribute '{}' must be a string", describe_node(n, index), key);
  return a->get<std::string>();
}

}  // namespace graph_detail

using namespace graph_detail;

namespace {

// Clip's bounds given as inputs 1 and 2 (opset 11 on), each optional.
void clip_bound_inputs(const std::vector<Tensor>& in, const std::string& what, float* lo, float* hi) {
  auto bound = [&](size_t i, float def) {
    if (i >= in.size() || !in[i].defined()) return def;
    if (in[i].numel() != 1 || in[i].dtype() != DType::F32) throw_input_error("{}: Clip bounds must be float scalars", what);
    return in[i].to(Device::CPU).data<float>()[0];
  };
  *lo = bound(1, *lo), *hi = bound(2, *hi);
}

// Pads of a 2-D window op: explicit [top, left, bottom, right], or from auto_pad at run time.
struct Window2d {
  std::string auto_pad = "NOTSET";
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  std::vector<int64_t> pads{0, 0, 0, 0};

  // The four pads for an input of h x w (SAME_*: output = ceil(input / stride)).
  std::vector<int64_t> pads_for(int64_t h, int64_t w) const {
    if (auto_pad == "NOTSET") return pads;
    if (auto_pad == "VALID") return {0, 0, 0, 0};
    auto total = [](int64_t in, int64_t k, int64_t s, int64_t d) {
      const int64_t out = (in + s - 1) / s;
      return std::max<int64_t>(0, (out - 1) * s + (k - 1) * d + 1 - in);
    };
    const int64_t th = total(h, kh, sh, dh), tw = total(w, kw, sw, dw);
    const bool upper = auto_pad == "SAME_UPPER";
    const int64_t top = upper ? th / 2 : th - th / 2, left = upper ? tw / 2 : tw - tw / 2;
    return {top, left, th - top, tw - left};
  }
};

Window2d parse_window(const GraphNode& n, size_t index, const std::vector<int64_t>& kernel) {
  const std::string what = describe_node(n, index);
  Window2d w;
  w.auto_pad = attr_string(n, index, "auto_pad", "NOTSET");
  if (w.auto_pad != "NOTSET" && w.auto_pad != "VALID" && w.auto_pad != "SAME_UPPER" && w.auto_pad != "SAME_LOWER")
    throw_input_error("{}: auto_pad '{}' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", what, w.auto_pad);
  if (kernel.size() != 2) throw_input_error("{}: only 2-D windows are supported (kernel_shape has {} values)", what, kernel.size());
  const std::vector<int64_t> strides = attr_ints(n, index, "strides", {1, 1}), dil = attr_ints(n, index, "dilations", {1, 1});
  const std::vector<int64_t> pads = attr_ints(n, index, "pads", {0, 0, 0, 0});
  if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4)
    throw_input_error("{}: strides, dilations and pads must have 2, 2 and 4 values for a 2-D window", what);
  for (int64_t v : {kernel[0], kernel[1], strides[0], strides[1], dil[0], dil[1]})
    if (v < 1 || v > 65536) throw_input_error("{}: kernel, stride and dilation must be in [1, 65536], got {}", what, v);
  for (int64_t p : pads)
    if (p < 0 || p > 65536) throw_input_error("{}: pads must be in [0, 65536], got {}", what, p);
  w.kh = kernel[0], w.kw = kernel[1], w.sh = strides[0], w.sw = strides[1], w.dh = dil[0], w.dw = dil[1];
  w.pads = {pads[0], pads[1], pads[2], pads[3]};  // ONNX: [h_begin, w_begin, h_end, w_end]
  return w;
}

const Tensor& input(const std::vector<Tensor>& in, size_t i, const std::string& what) {
  if (i >= in.size() || !in[i].defined()) throw_input_error("{}: input {} is missing", what, i);
  return in[i];
}

void require_rank(const Tensor& t, int64_t rank, const std::string& what) {
  if (t.dim() != rank) throw_input_error("{}: expected a rank-{} input, got shape {}", what, rank, shape_str(t.shape()));
}

// ONNX Reshape's target: 0 copies the input's dimension (unless allowzero), one -1 is inferred.
Shape reshape_target(const Shape& in, const std::vector<int64_t>& target, bool allowzero, const std::string& what) {
  Shape out(target.begin(), target.end());
  int64_t known = 1, infer = -1;
  int64_t total = 1;
  for (int64_t d : in) total *= d;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowzero) {
      if (i >= in.size()) throw_input_error("{}: shape entry {} copies a dimension the input lacks", what, i);
      out[i] = in[i];
    }
    if (out[i] == -1) {
      if (infer >= 0) throw_input_error("{}: more than one -1 in the target shape", what);
      infer = static_cast<int64_t>(i);
    } else if (out[i] < 0) {
      throw_input_error("{}: negative target dimension {}", what, out[i]);
    } else {
      if (out[i] > 0 && known > (int64_t(1) << 50) / out[i]) throw_input_error("{}: target shape too large", what);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0) throw_input_error("{}: cannot infer -1 for {} elements", what, total);
    out[static_cast<size_t>(infer)] = total / known;
  } else if (known != total) {
    throw_input_error("{}: target shape {} does not hold the input's {} elements", what, shape_str(out), total);
  }
  return out;
}

// The f32 form of a node (null when the op type is not supported).
GraphNodeFn compile_float_node(const GraphNode& n, size_t index, int64_t opset) {
  const std::string what = describe_node(n, index);
  const std::string& op = n.op;
  using In = const std::vector<Tensor>&;
  using Out = std::vector<Tensor>;
  if (op == "Conv") {
    const int64_t group = attr_int(n, index, "group", 1);
    if (group < 1) throw_input_error("{}: group must be >= 1", what);
    const std::vector<int64_t> kernel = attr_ints(n, index, "kernel_shape", {});
    const bool kernel_given = !kernel.empty();
    const Window2d win0 = parse_window(n, index, kernel_given ? kernel : std::vector<int64_t>{1, 1});
    return [=](In in, bool) -> Out {
      const Tensor& x = input(in, 0, what);
      const Tensor& w = input(in, 1, what);
      require_rank(x, 4, what);
      require_rank(w, 4, what);
      Window2d win = win0;
      win.kh = w.size(2), win.kw = w.size(3);
      if (kernel_given && (kernel[0] != win.kh || kernel[1] != win.kw))
        throw_input_error("{}: kernel_shape {}x{} differs from the weight's {}", what, kernel[0], kernel[1], shape_str(w.shape()));
      if (x.size(1) != w.size(1) * group || w.size(0) % group != 0)
        throw_input_error("{}: input {} and weight {} do not fit group {}", what, shape_str(x.shape()), shape_str(w.shape()), group);
      const std::vector<int64_t> p = win.pads_for(x.size(2), x.size(3));
      ConvGeneralParams cp;
      cp.stride_h = win.sh, cp.stride_w = win.sw, cp.dilation_h = win.dh, cp.dilation_w = win.dw, cp.groups = group;
      cp.pad_top = p[0], cp.pad_left = p[1], cp.pad_bottom = p[2], cp.pad_right = p[3];
      if (x.size(2) + p[0] + p[2] < (win.kh - 1) * win.dh + 1 || x.size(3) + p[1] + p[3] < (win.kw - 1) * win.dw + 1)
        throw_input_error("{}: input {} is smaller than the kernel", what, shape_str(x.shape()));
      check_value_size(what, {x.size(0), w.size(0), (x.size(2) + p[0] + p[2] - (win.kh - 1) * win.dh - 1) / win.sh + 1,
                              (x.size(3) + p[1] + p[3] - (win.kw - 1) * win.dw - 1) / win.sw + 1});
      const Tensor b = in.size() > 2 ? in[2] : Tensor();
      if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0)))
        throw_input_error("{}: bias {} does not fit {} output channels", what, shape_str(b.shape()), w.size(0));
      return {conv2d_general(x, w, b, cp)};
    };
  }
  if (op == "MaxPool" || op == "AveragePool") {
    if (n.outputs.size() > 1 && !n.outputs[1].empty()) throw_input_error("{}: the Indices output is not supported", what);
    if (attr_int(n, index, "storage_order", 0) != 0) throw_input_error("{}: storage_order 1 is not supported", what);
    const Window2d win = parse_window(n, index, attr_ints(n, index, "kernel_shape", {}));
    const bool ceil_mode = attr_int(n, index, "ceil_mode", 0) != 0;
    const bool include_pad = attr_int(n, index, "count_include_pad", 0) != 0;
    const bool max = op == "MaxPool";
    if (!max && (win.dh != 1 || win.dw != 1)) throw_input_error("{}: AveragePool with dilations is not supported", what);
    return [=](In in, bool) -> Out {
      const Tensor& x = input(in, 0, what);
      require_rank(x, 4, what);
      const std::vector<int64_t> p = win.pads_for(x.size(2), x.size(3));
      PoolGeneralParams pp;
      pp.kernel_h = win.kh, pp.kernel_w = win.kw, pp.stride_h = win.sh, pp.stride_w = win.sw;
      pp.pad_top = p[0], pp.pad_left = p[1], pp.pad_bottom = p[2], pp.pad_right = p[3];
      pp.dilation_h = win.dh, pp.dilation_w = win.dw, pp.ceil_mode = ceil_mode, pp.count_include_pad = include_pad;
      if (x.size(2) + p[0] + p[2] < (win.kh - 1) * win.dh + 1 || x.size(3) + p[1] + p[3] < (win.kw - 1) * win.dw + 1)
        throw_input_error("{}: input {} is smaller than the window", what, shape_str(x.shape()));
      check_value_size(what, {x.size(0), x.size(1), (x.size(2) + p[0] + p[2]) / win.sh + 1, (x.size(3) + p[1] + p[3]) / win.sw + 1});
      return {max ? max_pool2d_general(x, pp) : avg_pool2d_general(x, pp)};
    };
  }
  if (op == "GlobalAveragePool") {
    return [=](In in, bool) -> Out {
      const Tensor& x = input(in, 0, what);
      require_rank(x, 4, what);
      if (x.size(2) == 1 && x.size(3) == 1) return {x};  // the mean of one value is that value
      return {adaptive_avg_pool2d(x, 1, 1)};
    };
  }
  if (op == "BatchNormalization") {
    if (attr_int(n, index, "spatial", 1) != 1) throw_input_error("{}: spatial=0 (opset < 9) is not supported", what);
    for (size_t i = 1; i < n.outputs.size(); ++i)
      if (!n.outputs[i].empty()) throw_input_error("{}: only the first output (Y) is supported", what);
    const float eps = attr_float(n, index, "epsilon", 1e-5f);
    const float momentum = 1.0f - attr_float(n, index, "momentum", 0.9f);  // ONNX keeps, PyTorch adds
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1)) throw_input_error("{}: epsilon or momentum out of range", what);
    return [=](In in, bool training) -> Out {
      const Tensor& x = input(in, 0, what);
      if (x.dim() < 2) throw_input_error("{}: expected an input of rank 2 or more, got {}", what, shape_str(x.shape()));
      for (size_t i = 1; i <= 4; ++i) {
        const Tensor& t = input(in, i, what);
        if (t.dim() != 1 || t.size(0) != x.size(1) || t.dtype() != DType::F32)
          throw_input_error("{}: input {} {} does not fit {} channels", what, i, shape_str(t.shape()), x.size(1));
      }
      Tensor mean = in[3], var = in[4];  // handles: training updates the model's buffers in place
      if (x.dim() == 2 || x.dim() == 4) return {batch_norm(x, in[1], in[2], mean, var, training, momentum, eps)};
      // Other ranks: the positions after the channel as one image dimension.
      const Tensor y = batch_norm(reshape(x, {x.size(0), x.size(1), -1, 1}), in[1], in[2], mean, var, training, momentum, eps);
      return {reshape(y, x.shape())};
    };
  }
  if (op == "Gemm") {
    const float alpha = attr_float(n, index, "alpha", 1.0f), beta = attr_float(n, index, "beta", 1.0f);
    const bool ta = attr_int(n, index, "transA", 0) != 0, tb = attr_int(n, index, "transB", 0) != 0;
    return [=](In in, bool) -> Out {
      const Tensor& a = input(in, 0, what);
      const Tensor& b = input(in, 1, what);
      require_rank(a, 2, what);
      require_rank(b, 2, what);
      const int64_t m = ta ? a.size(1) : a.size(0), k = ta ? a.size(0) : a.size(1);
      const int64_t kb = tb ? b.size(1) : b.size(0), nn = tb ? b.size(0) : b.size(1);
      if (k != kb) throw_input_error("{}: A {} and B {} do not multiply", what, shape_str(a.shape()), shape_str(b.shape()));
      const Tensor c = in.size() > 2 ? in[2] : Tensor();
      if (c.defined()) {
        const Shape& cs = c.shape();
        const bool fits = c.dim() <= 2 && (c.dim() < 1 || cs.back() == 1 || cs.back() == nn) &&
                          (c.dim() < 2 || cs[0] == 1 || cs[0] == m);
        if (!fits) throw_input_error("{}: C {} does not broadcast to ({}, {})", what, shape_str(cs), m, nn);
      }
      check_value_size(what, {m, nn});
      return {gemm(a, b, c, alpha, beta, ta, tb)};
    };
  }
  if (op == "MatMul") {
    return [=](In in, bool) -> Out {
      const Tensor& a = input(in, 0, what);
      const Tensor& b = input(in, 1, what);
      if (a.dim() < 1 || b.dim() < 1) throw_input_error("{}: MatMul of a scalar", what);
      const int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
      if (ka != kb) throw_input_error("{}: {} and {} do not multiply", what, shape_str(a.shape()), shape_str(b.shape()));
      Shape out;  // broadcast batch dimensions, then rows x columns
      const int64_t ra = a.dim(), rb = b.dim(), batch = std::max<int64_t>(ra, rb) - 2;
      for (int64_t i = 0; i < batch; ++i) {
        const int64_t da = i - (batch - (ra - 2)) >= 0 ? a.size(i - (batch - (ra - 2))) : 1;
        const int64_t db = i - (batch - (rb - 2)) >= 0 ? b.size(i - (batch - (rb - 2))) : 1;
        if (da != db && da != 1 && db != 1) throw_input_error("{}: batch dimensions of {} and {} do not broadcast", what, shape_str(a.shape()), shape_str(b.shape()));
        out.push_back(std::max(da, db));
      }
      out.push_back(ra >= 2 ? a.size(-2) : 1);
      out.push_back(rb >= 2 ? b.size(-1) : 1);
      check_value_size(what, out);
      return {matmul(a, b)};
    };
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    if (n.attrs.contains("axis")) throw_input_error("{}: the legacy broadcast axis (opset < 7) is not supported", what);
    const BinaryOp bop = op == "Add" ? BinaryOp::Add : op == "Sub" ? BinaryOp::Sub : op == "Mul" ? BinaryOp::Mul : BinaryOp::Div;
    return [=](In in, bool) -> Out {
      const Tensor& a = input(in, 0, what);
      const Tensor& b = input(in, 1, what);
      const int64_t r = std::max(a.dim(), b.dim());
      Shape out(static_cast<size_t>(r));
      for (int64_t i = 0; i < r; ++i) {
        const int64_t da = i < a.dim() ? a.size(a.dim() - 1 - i) : 1;
        const int64_t db = i < b.dim() ? b.size(b.dim() - 1 - i) : 1;
        if (da != db && da != 1 && db != 1)
          throw_input_error("{}: shapes {} and {} do not broadcast", what, shape_str(a.shape()), shape_str(b.shape()));
        out[size_t(r - 1 - i)] = da == 1 ? db : da;
      }
      check_value_size(what, out);
      return {binary(a, b, bop)};
    };
  }
  if (op == "Relu") return [=](In in, bool) -> Out { return {relu(input(in, 0, what))}; };
  if (op == "Sigmoid" || op == "Tanh" || op == "HardSwish" || op == "LeakyRelu" || op == "HardSigmoid" || op == "Clip") {
    UnaryOp u = UnaryOp::Sigmoid;
    float a = 0, b = 0;
    if (op == "Tanh") u = UnaryOp::Tanh;
    if (op == "HardSwish") u = UnaryOp::HardSwish;
    if (op == "LeakyRelu") u = UnaryOp::LeakyRelu, a = attr_float(n, index, "alpha", 0.01f);
    if (op == "HardSigmoid") u = UnaryOp::HardSigmoid, a = attr_float(n, index, "alpha", 0.2f), b = attr_float(n, index, "beta", 0.5f);
    const bool clip_inputs = op == "Clip" && opset >= 11;
    if (op == "Clip") {
      u = UnaryOp::Clip;
      a = attr_float(n, index, "min", -std::numeric_limits<float>::infinity());
      b = attr_float(n, index, "max", std::numeric_limits<float>::infinity());
    }
    return [=](In in, bool) -> Out {
      float lo = a, hi = b;
      if (clip_inputs) clip_bound_inputs(in, what, &lo, &hi);
      return {unary(input(in, 0, what), u, lo, hi)};
    };
  }
  if (op == "Softmax" || op == "LogSoftmax") {
    const int64_t axis = attr_int(n, index, "axis", opset >= 13 ? -1 : 1);
    const bool log = op == "LogSoftmax";
    return [=](In in, bool) -> Out {
      const Tensor& x = input(in, 0, what);
      const int64_t r = x.dim(), ax = normalize_axis(axis, r, what);
      if (opset >= 13 || ax == r - 1) return {softmax(x, ax, log)};
      // Before opset 13: the input is coerced to 2-D at `axis` and normalised over the second part.
      int64_t outer = 1, inner = 1;
      for (int64_t i = 0; i < r; ++i) (i < ax ? outer : inner) *= x.size(i);
      return {reshape(softmax(reshape(x, {outer, inner}), 1, log), x.shape())};
    };
  }
  if (op == "Flatten") {
    const int64_t axis = attr_int(n, index, "axis", 1);
    return [=](In in, bool) -> Out {
      const Tensor& x = input(in, 0, what);
      const int64_t r = x.dim(), ax = axis == r ? r : normalize_axis(axis, r, what);
      int64_t outer = 1, inner = 1;
      for (int64_t i = 0; i < r; ++i) (i < ax ? outer : inner) *= x.size(i);
      return {reshape(x, {outer, inner})};
    };
  }
  if (op == "Reshape") {
    const bool allowzero = attr_int(n, index, "allowzero", 0) != 0;
    const bool shape_attr = opset < 5;  // the target was an attribute before opset 5
    const std::vector<int64_t> target_attr = attr_ints(n, index, "shape", {});
    return [=](In in, bool) -> Out {
      const Tensor& x = input(in, 0, what);
      const std::vector<int64_t> target = shape_attr ? target_attr : int_values(input(in, 1, what), what);
      return {reshape(x, reshape_target(x.shape(), target, allowzero, what))};
    };
  }
  if (op == "Squeeze" || op == "Unsqueeze") {
    const std::vector<int64_t> axes_attr = attr_ints(n, index, "axes", {});
    const bool unsqueeze = op == "Unsqueeze";
    return [=](In in, bool) -> Out {
      const Tensor& x = input(in, 0, what);
      const std::vector<int64_t> axes = opset >= 13 && in.size() > 1 && in[1].defined() ? int_values(in[1], what) : axes_attr;
      Shape s = x.shape();
      if (unsqueeze) {
        const int64_t r = x.dim() + static_cast<int64_t>(axes.size());
        std::vector<bool> inserted(static_cast<size_t>(r), false);
        for (int64_t a : axes) {
          const int64_t ax = normalize_axis(a, r, what);
          if (inserted[size_t(ax)]) throw_input_error("{}: axis {} given twice", what, a);
          inserted[size_t(ax)] = true;
        }
        Shape out;
        size_t k = 0;
        for (int64_t i = 0; i < r; ++i) out.push_back(inserted[size_t(i)] ? 1 : s.at(k++));
        return {reshape(x, out)};
      }
      std::vector<bool> drop(s.size(), axes.empty());
      for (size_t i = 0; i < s.size() && axes.empty(); ++i) drop[i] = s[i] == 1;
      for (int64_t a : axes) {
        const int64_t ax = normalize_axis(a, x.dim(), what);
        if (s[size_t(ax)] != 1) throw_input_error("{}: cannot squeeze axis {} of size {}", what, a, s[size_t(ax)]);
        drop[size_t(ax)] = true;
      }
      Shape out;
      for (size_t i = 0; i < s.size(); ++i)
        if (!drop[i]) out.push_back(s[i]);
      return {reshape(x, out)};
    };
  }
  if (op == "Concat") {
    const int64_t axis = attr_int(n, index, "axis", 0);
    return [=](In in, bool) -> Out {
      std::vector<Tensor> xs;
      for (const Tensor& t : in)
        if (t.defined()) xs.push_back(t);
      if (xs.empty()) throw_input_error("{}: no inputs", what);
      const int64_t r = xs[0].dim(), ax = normalize_axis(axis, r, what);
      for (const Tensor& t : xs) {
        bool fits = t.dim() == r && t.dtype() == xs[0].dtype();
        for (int64_t d = 0; fits && d < r; ++d) fits = d == ax || t.size(d) == xs[0].size(d);
        if (!fits) throw_input_error("{}: {} and {} do not concatenate on axis {}", what, shape_str(xs[0].shape()), shape_str(t.shape()), axis);
      }
      Shape out = xs[0].shape();
      out[size_t(ax)] = 0;
      for (const Tensor& t : xs) out[size_t(ax)] += t.size(ax);
      check_value_size(what, out);
      return {concat(xs, ax)};
    };
  }
  if (op == "Transpose") {
    const std::vector<int64_t> perm_attr = attr_ints(n, index, "perm", {});
    return [=](In in, bool) -> Out {
      const Tensor& x = input(in, 0, what);
      std::vector<int64_t> perm = perm_attr;
      if (perm.empty())
        for (int64_t i = x.dim() - 1; i >= 0; --i) perm.push_back(i);
      std::vector<bool> seen(static_cast<size_t>(x.dim()), false);
      if (static_cast<int64_t>(perm.size()) != x.dim()) throw_input_error("{}: perm has {} entries for rank {}", what, perm.size(), x.dim());
      for (int64_t& p : perm) {
        p = normalize_axis(p, x.dim(), what);
        if (seen[size_t(p)]) throw_input_error("{}: perm is not a permutation", what);
        seen[size_t(p)] = true;
      }
      return {transpose(x, perm)};
    };
  }
  if (op == "Pad") {
    if (n.attrs.contains("paddings")) throw_input_error("{}: Pad's opset-1 'paddings' attribute is not supported", what);
    const std::string mode = attr_string(n, index, "mode", "constant");
    if (mode != "constant") throw_input_error("{}: Pad mode '{}' is not supported (constant only)", what, mode);
    const std::vector<int64_t> pads_attr = attr_ints(n, index, "pads", {});
    const float value_attr = attr_float(n, index, "value", 0.0f);
    return [=](In in, bool) -> Out {
      const Tensor& x = input(in, 0, what);
      const std::vector<int64_t> pads = opset >= 11 ? int_values(input(in, 1, what), what) : pads_attr;
      if (in.size() > 3 && in[3].defined()) throw_input_error("{}: Pad with axes is not supported", what);
      float value = value_attr;
      if (opset >= 11 && in.size() > 2 && in[2].defined()) {
        if (in[2].numel() != 1 || in[2].dtype() != DType::F32) throw_input_error("{}: constant_value must be a float scalar", what);
        value = in[2].to(Device::CPU).data<float>()[0];
      }
      if (static_cast<int64_t>(pads.size()) != 2 * x.dim()) throw_input_error("{}: {} pads for rank {}", what, pads.size(), x.dim());
      for (size_t i = 0; i < static_cast<size_t>(x.dim()); ++i)
        if (std::abs(pads[i]) > 65536 || std::abs(pads[i + size_t(x.dim())]) > 65536 ||
            x.size(int64_t(i)) + pads[i] + pads[i + size_t(x.dim())] < 0)
          throw_input_error("{}: pads {} do not fit shape {}", what, pads[i], shape_str(x.shape()));
      Shape out = x.shape();
      for (size_t i = 0; i < out.size(); ++i) out[i] += pads[i] + pads[i + out.size()];
      check_value_size(what, out);
      return {pad_constant(x, pads, value)};
    };
  }
  if (op == "Identity") return [=](In in, bool) -> Out { return {input(in, 0, what)}; };
  if (op == "Dropout") {
    if (n.outputs.size() > 1 && !n.outputs[1].empty()) throw_input_error("{}: the mask output is not supported", what);
    return [=](In in, bool) -> Out { return {input(in, 0, what)}; };  // inference form
  }
  return nullptr;
}

}  // namespace

const std::vector<std::string>& supported_graph_ops() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> v{"Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "Conv",
                               "Div", "Dropout", "Flatten", "Gather", "Gemm", "GlobalAveragePool", "HardSigmoid",
                               "HardSwish", "Identity", "LeakyRelu", "LogSoftmax", "MatMul", "MaxPool", "Mul", "Pad",
                               "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Softmax", "Squeeze", "Sub", "Tanh",
                               "Transpose", "Unsqueeze"};
    std::sort(v.begin(), v.end());
    return v;
  }();
  return ops;
}

bool is_shape_op(const std::string& op) {
  return op == "Shape" || op == "Gather" || op == "Cast" || op == "Slice" || op == "Add" || op == "Sub" || op == "Mul" ||
         op == "Div" || op == "Concat" || op == "Unsqueeze" || op == "Squeeze" || op == "Reshape";
}

GraphNodeFn compile_graph_node(const GraphNode& node, size_t index, int64_t opset) {
  const std::string& op = node.op;
  const std::vector<std::string>& ops = supported_graph_ops();
  if (op == "Constant" || !std::binary_search(ops.begin(), ops.end(), op)) {
    std::string list;
    for (const std::string& o : ops) list += (list.empty() ? "" : ", ") + o;
    throw_input_error("{} is not supported; supported ops: {}", describe_node(node, index), list);
  }
  if (node.outputs.empty() || node.outputs[0].empty()) throw_input_error("{} has no output", describe_node(node, index));
  GraphNodeFn f = compile_float_node(node, index, opset);
  GraphNodeFn i = compile_int_node(node, index, opset);
  if (!f && !i) throw_input_error("{}: this form of {} (opset {}) is not supported", describe_node(node, index), op, opset);
  if (!f) return i;  // Shape, Gather, Cast, Slice: i64 (or casts)
  if (!i) return f;
  // Ops with both forms pick by the first input's type.
  return [f, i](const std::vector<Tensor>& in, bool training) {
    return !in.empty() && in[0].defined() && in[0].dtype() == DType::I64 ? i(in, training) : f(in, training);
  };
}

namespace graph_detail {

bool in_place_capable(const GraphNode& n) { return n.op == "Relu" || n.op == "Clip"; }

void run_in_place(const GraphNode& n, size_t index, int64_t opset, const std::vector<Tensor>& in, Tensor& x) {
  if (n.op == "Relu") {
    relu_in_place(x);
    return;
  }
  STUCKAT_CHECK(n.op == "Clip", "{} cannot run in place", describe_node(n, index));
  float lo = attr_float(n, index, "min", -std::numeric_limits<float>::infinity());
  float hi = attr_float(n, index, "max", std::numeric_limits<float>::infinity());
  if (opset >= 11) clip_bound_inputs(in, describe_node(n, index), &lo, &hi);
  unary_in_place(x, UnaryOp::Clip, lo, hi);
}

}  // namespace graph_detail

}  // namespace stuckat
