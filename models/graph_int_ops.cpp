// Shape arithmetic on i64 values (ONNX exporters compute Reshape targets from Shape, Gather,
// Unsqueeze, Concat, ...): plain loops on small CPU tensors, no gradients. Folded into constants
// on import when the inputs are constants; otherwise run each forward (a dynamic batch size).
#include <algorithm>
#include <limits>

#include "base/error.h"
#include "models/graph_ops.h"

namespace stuckat::graph_detail {
namespace {

bool all_int(const std::vector<Tensor>& in) {
  for (const Tensor& t : in)
    if (t.defined() && t.dtype() != DType::I64) return false;
  return true;
}

}  // namespace

std::vector<int64_t> int_values(const Tensor& t, const std::string& what) {
  if (!t.defined()) throw_input_error("{}: a required input is missing", what);
  if (t.dtype() != DType::I64 || t.device() != Device::CPU)
    throw_input_error("{}: expected an int64 shape operand, got {}", what, dtype_name(t.dtype()));
  Tensor c = t.contiguous();
  return std::vector<int64_t>(c.data<int64_t>(), c.data<int64_t>() + c.numel());
}

Tensor int_tensor(const std::vector<int64_t>& values, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::I64);
  std::copy(values.begin(), values.end(), t.data<int64_t>());
  return t;
}

int64_t& max_value_elements() {
  static int64_t limit = int64_t(1) << 28;
  return limit;
}

void check_value_size(const std::string& what, const Shape& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw_input_error("{}: negative output dimension {}", what, d);
    if (d > 0 && n > max_value_elements() / d) n = max_value_elements() + 1;
    else n *= d;
  }
  if (n > max_value_elements())
    throw_input_error("{}: the output {} would hold more than {} elements", what, shape_str(dims), max_value_elements());
}

int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what) {
  if (axis < -rank || axis >= rank) throw_input_error("{}: axis {} is out of range for rank {}", what, axis, rank);
  return axis < 0 ? axis + rank : axis;
}

GraphNodeFn compile_int_node(const GraphNode& node, size_t index, int64_t opset) {
  const std::string what = describe_node(node, index);
  const std::string& op = node.op;
  if (op == "Shape") {
    const int64_t start = attr_int(node, index, "start", 0), end = attr_int(node, index, "end", std::numeric_limits<int64_t>::max());
    return [=](const std::vector<Tensor>& in, bool) -> std::vector<Tensor> {
      const Shape& s = in.at(0).shape();
      const int64_t r = static_cast<int64_t>(s.size());
      auto clampi = [&](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t(0), r); };
      const int64_t b = clampi(start), e = std::max(b, clampi(end));
      std::vector<int64_t> v(s.begin() + b, s.begin() + e);
      return {int_tensor(v, {static_cast<int64_t>(v.size())})};
    };
  }
  if (op == "Gather") {
    const int64_t axis = attr_int(node, index, "axis", 0);
    return [=](const std::vector<Tensor>& in, bool) -> std::vector<Tensor> {
      if (!all_int(in)) throw_input_error("{}: Gather of float data is not supported (int64 shape values only)", what);
      const std::vector<int64_t> data = int_values(in.at(0), what), idx = int_values(in.at(1), what);
      if (in[0].dim() != 1 || normalize_axis(axis, 1, what) != 0)
        throw_input_error("{}: Gather of data of rank {} is not supported (1-D int64 shape values only)", what, in[0].dim());
      std::vector<int64_t> out;
      for (int64_t i : idx) out.push_back(data.at(static_cast<size_t>(normalize_axis(i, static_cast<int64_t>(data.size()), what))));
      return {int_tensor(out, in[1].shape())};
    };
  }
  if (op == "Cast") {
    const int64_t to = attr_int(node, index, "to", 0);  // 1 float, 7 int64
    if (to != 1 && to != 7) throw_input_error("{}: Cast to ONNX type {} is not supported (float or int64 only)", what, to);
    return [=](const std::vector<Tensor>& in, bool) -> std::vector<Tensor> {
      const Tensor& x = in.at(0);
      if ((to == 1) == (x.dtype() == DType::F32)) return {x};
      Tensor c = x.contiguous();
      if (to == 7) {
        if (c.device() != Device::CPU) throw_input_error("{}: Cast of a device tensor to int64 is not supported", what);
        std::vector<int64_t> v(static_cast<size_t>(c.numel()));
        for (size_t i = 0; i < v.size(); ++i) {
          const float f = c.data<float>()[i];
          if (!(f > -9.2e18f && f < 9.2e18f)) throw_input_error("{}: Cast of {} to int64", what, f);
          v[i] = static_cast<int64_t>(f);
        }
        return {int_tensor(v, c.shape())};
      }
      Tensor y = Tensor::empty(c.shape());
      for (int64_t i = 0; i < c.numel(); ++i) y.data<float>()[i] = static_cast<float>(c.data<int64_t>()[i]);
      return {y};
    };
  }
  if (op == "Slice" && opset >= 10) {
    return [=](const std::vector<Tensor>& in, bool) -> std::vector<Tensor> {
      if (!all_int(in) || in.at(0).dim() != 1)
        throw_input_error("{}: Slice of float or multi-dimensional data is not supported (1-D int64 shape values only)", what);
      const std::vector<int64_t> data = int_values(in[0], what);
      const std::vector<int64_t> starts = int_values(in.at(1), what), ends = int_values(in.at(2), what);
      const int64_t step = in.size() > 4 && in[4].defined() ? int_values(in[4], what).at(0) : 1;
      if (starts.size() != 1 || ends.size() != 1 || step == 0) throw_input_error("{}: Slice with several axes or a zero step is not supported", what);
      const int64_t n = static_cast<int64_t>(data.size());
      auto clampi = [&](int64_t v, int64_t lo, int64_t hi) { return std::clamp(v < 0 ? v + n : v, lo, hi); };
      std::vector<int64_t> out;
      if (step > 0) {
        for (int64_t i = clampi(starts[0], 0, n), e = clampi(ends[0], 0, n); i < e; i += step) out.push_back(data[size_t(i)]);
      } else {
        for (int64_t i = clampi(starts[0], -1, n - 1), e = clampi(ends[0], -1, n - 1); i > e; i += step) out.push_back(data[size_t(i)]);
      }
      return {int_tensor(out, {static_cast<int64_t>(out.size())})};
    };
  }
  const bool arith = op == "Add" || op == "Sub" || op == "Mul" || op == "Div";
  if (arith || op == "Concat" || op == "Unsqueeze" || op == "Squeeze" || op == "Reshape") {
    // Only when the values are int64 (the float forms are the framework's ops).
    const std::vector<int64_t> axes_attr = attr_ints(node, index, "axes", {});
    return [=](const std::vector<Tensor>& in, bool) -> std::vector<Tensor> {
      if (op == "Concat") {
        std::vector<int64_t> out;
        for (const Tensor& t : in) {
          if (t.dim() != 1) throw_input_error("{}: int64 Concat of 1-D values only", what);
          for (int64_t v : int_values(t, what)) out.push_back(v);
        }
        return {int_tensor(out, {static_cast<int64_t>(out.size())})};
      }
      const std::vector<int64_t> a = int_values(in.at(0), what);
      if (op == "Unsqueeze" || op == "Squeeze" || op == "Reshape") {
        Shape s = in[0].shape();
        if (op == "Reshape") {
          const std::vector<int64_t> target = int_values(in.at(1), what);
          if (target.size() == 1 && (target[0] == -1 || target[0] == static_cast<int64_t>(a.size()))) return {int_tensor(a, {static_cast<int64_t>(a.size())})};
          if (target.empty() && a.size() == 1) return {int_tensor(a, {})};
          throw_input_error("{}: int64 Reshape to {} values is not supported", what, target.size());
        }
        const std::vector<int64_t> axes = opset >= 13 && in.size() > 1 && in[1].defined() ? int_values(in[1], what) : axes_attr;
        if (op == "Unsqueeze") {
          if (s.size() + axes.size() > 1 || axes.size() != 1) throw_input_error("{}: int64 Unsqueeze of a scalar only", what);
          return {int_tensor(a, {1})};
        }
        if (a.size() != 1) throw_input_error("{}: int64 Squeeze of one value only", what);
        return {int_tensor(a, {})};
      }
      const std::vector<int64_t> b = int_values(in.at(1), what);
      if (a.size() != b.size() && a.size() != 1 && b.size() != 1)
        throw_input_error("{}: int64 {} of {} and {} values", what, op, a.size(), b.size());
      const size_t n = std::max(a.size(), b.size());
      std::vector<int64_t> out(n);
      for (size_t i = 0; i < n; ++i) {
        const int64_t x = a[a.size() == 1 ? 0 : i], y = b[b.size() == 1 ? 0 : i];
        bool overflow = false;
        if (op == "Add") overflow = __builtin_add_overflow(x, y, &out[i]);
        if (op == "Sub") overflow = __builtin_sub_overflow(x, y, &out[i]);
        if (op == "Mul") overflow = __builtin_mul_overflow(x, y, &out[i]);
        if (op == "Div") {
          if (y == 0 || (x == std::numeric_limits<int64_t>::min() && y == -1))
            throw_input_error("{}: int64 division of {} by {}", what, x, y);
          out[i] = x / y;
        }
        if (overflow) throw_input_error("{}: int64 {} of {} and {} overflows", what, op, x, y);
      }
      return {int_tensor(out, a.size() >= b.size() ? in[0].shape() : in[1].shape())};
    };
  }
  return nullptr;
}

}  // namespace stuckat::graph_detail
