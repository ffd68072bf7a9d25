// concat, transpose and pad_constant (ONNX semantics): argument checks, the strided copies of
// kernels/cpu/tensor_copy.h (kernels/cuda/tensor_copy.h on CUDA), and the autograd nodes (each
// gradient is the inverse copy).
#include "framework/ops/tensor_ops.h"

#include "framework/autograd.h"
#include "framework/ops/op_checks.h"
#include "kernels/cpu/tensor_copy.h"
#include "kernels/cuda/tensor_copy.h"

namespace stuckat {
namespace {
using namespace ops_detail;

int64_t product(const Shape& s, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i) n *= s[i];
  return n;
}

// Concat as (outer, inner) blocks: input i is the column block [offsets[i], offsets[i] + inners[i])
// of the output's (outer, y_inner) view.
struct ConcatBackward : Node {
  std::vector<Shape> shapes;
  std::vector<char> needs_grad;
  std::vector<int64_t> offsets, inners;
  int64_t outer = 0, y_inner = 0;
  const char* name() const override { return "ConcatBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    const Tensor dy = dy_in.contiguous();
    std::vector<Tensor> dxs(shapes.size());
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (!needs_grad[i]) continue;
      dxs[i] = Tensor::empty(shapes[i], DType::F32, dy.device());
      if (dy.device() == Device::CUDA)
        cuda::concat_piece_backward(dy.data<float>(), dxs[i].data<float>(), outer, inners[i], y_inner, offsets[i]);
      else
        cpu::concat_piece_backward(dy.data<float>(), dxs[i].data<float>(), outer, inners[i], y_inner, offsets[i]);
    }
    return dxs;
  }
};

struct TransposeBackward : Node {
  Shape y_shape;
  std::vector<int64_t> inverse;  // output dim i of the gradient copy is dy's dim inverse[i]
  const char* name() const override { return "TransposeBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    const Tensor dy = dy_in.contiguous();
    Shape x_shape(inverse.size());
    for (size_t i = 0; i < inverse.size(); ++i) x_shape[i] = y_shape[static_cast<size_t>(inverse[i])];
    Tensor dx = Tensor::empty(x_shape, DType::F32, dy.device());
    if (dy.device() == Device::CUDA)
      cuda::permute_copy(dy.data<float>(), dx.data<float>(), y_shape, inverse);
    else
      cpu::permute_copy(dy.data<float>(), dx.data<float>(), y_shape, inverse);
    return {dx};
  }
};

struct PadBackward : Node {
  cpu::PadShape s;
  const char* name() const override { return "PadBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    const Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(s.in, DType::F32, dy.device());
    if (dy.device() == Device::CUDA)
      cuda::pad_constant_backward(dy.data<float>(), dx.data<float>(), s);
    else
      cpu::pad_constant_backward(dy.data<float>(), dx.data<float>(), s);
    return {dx};
  }
};

}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  const char* op = "concat";
  STUCKAT_CHECK(!xs.empty(), "concat: no inputs");
  for (const Tensor& x : xs) {
    require_f32(op, "input", x);
    require_same_device(op, xs[0], x);
  }
  const Shape& first = xs[0].shape();
  const int64_t rank = xs[0].dim();
  STUCKAT_CHECK(rank >= 1, "concat: inputs need at least one dimension, got shape {}", shape_str(first));
  STUCKAT_CHECK(axis >= -rank && axis < rank, "concat: axis {} out of range for shape {}", axis, shape_str(first));
  const size_t ax = static_cast<size_t>(axis < 0 ? axis + rank : axis);
  Shape out = first;
  out[ax] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i].shape();
    bool same = s.size() == first.size();
    for (size_t d = 0; same && d < s.size(); ++d) same = d == ax || s[d] == first[d];
    STUCKAT_CHECK(same, "concat: input {} has shape {}, input 0 has shape {}; they may differ only on axis {}", i,
                  shape_str(s), shape_str(first), axis);
    out[ax] += s[ax];
  }
  const int64_t outer = product(out, 0, ax), unit = product(out, ax + 1, out.size()), y_inner = out[ax] * unit;
  const Device device = xs[0].device();
  Tensor y = Tensor::empty(out, DType::F32, device);
  auto node = std::make_shared<ConcatBackward>();
  int64_t offset = 0;
  for (const Tensor& x_in : xs) {
    const Tensor x = x_in.contiguous();
    const int64_t x_inner = x.shape()[ax] * unit;
    if (device == Device::CUDA)
      cuda::concat_piece_forward(x.data<float>(), y.data<float>(), outer, x_inner, y_inner, offset);
    else
      cpu::concat_piece_forward(x.data<float>(), y.data<float>(), outer, x_inner, y_inner, offset);
    node->shapes.push_back(x.shape());
    node->needs_grad.push_back(x_in.requires_grad() ? 1 : 0);
    node->offsets.push_back(offset);
    node->inners.push_back(x_inner);
    offset += x_inner;
  }
  std::vector<const Tensor*> inputs;
  for (const Tensor& x : xs) inputs.push_back(&x);
  if (any_requires_grad(inputs)) {
    node->outer = outer;
    node->y_inner = y_inner;
    connect(y, node, inputs);
  }
  return y;
}

Tensor transpose(const Tensor& x_in, const std::vector<int64_t>& perm) {
  const char* op = "transpose";
  require_f32(op, "input", x_in);
  const int64_t rank = x_in.dim();
  bool valid = static_cast<int64_t>(perm.size()) == rank;
  std::vector<int64_t> inverse(perm.size(), -1);
  for (size_t i = 0; valid && i < perm.size(); ++i) {
    valid = perm[i] >= 0 && perm[i] < rank && inverse[static_cast<size_t>(perm[i])] < 0;
    if (valid) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  }
  STUCKAT_CHECK(valid, "transpose: perm {} is not a permutation of the {} dimensions of shape {}", shape_str(perm),
                rank, shape_str(x_in.shape()));
  const Tensor x = x_in.contiguous();
  Shape out(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out[i] = x.shape()[static_cast<size_t>(perm[i])];
  Tensor y = Tensor::empty(out, DType::F32, x.device());
  if (x.device() == Device::CUDA)
    cuda::permute_copy(x.data<float>(), y.data<float>(), x.shape(), perm);
  else
    cpu::permute_copy(x.data<float>(), y.data<float>(), x.shape(), perm);
  if (any_requires_grad({&x_in})) {
    auto node = std::make_shared<TransposeBackward>();
    node->y_shape = out;
    node->inverse = inverse;
    connect(y, node, {&x_in});
  }
  return y;
}

Tensor pad_constant(const Tensor& x_in, const std::vector<int64_t>& pads, float value) {
  const char* op = "pad_constant";
  require_f32(op, "input", x_in);
  const size_t rank = static_cast<size_t>(x_in.dim());
  STUCKAT_CHECK(pads.size() == 2 * rank, "pad_constant: {} pads for shape {} (needs 2 * rank = {})", pads.size(),
                shape_str(x_in.shape()), 2 * rank);
  cpu::PadShape s;
  s.in = x_in.shape();
  s.begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(rank));
  s.end.assign(pads.begin() + static_cast<std::ptrdiff_t>(rank), pads.end());
  const Shape out = s.out();
  for (int64_t d : out)
    STUCKAT_CHECK(d >= 0, "pad_constant: pads {} crop shape {} below zero (to {})", shape_str(pads),
                  shape_str(x_in.shape()), shape_str(out));
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(out, DType::F32, x.device());
  if (x.device() == Device::CUDA)
    cuda::pad_constant_forward(x.data<float>(), y.data<float>(), s, value);
  else
    cpu::pad_constant_forward(x.data<float>(), y.data<float>(), s, value);
  if (any_requires_grad({&x_in})) {
    auto node = std::make_shared<PadBackward>();
    node->s = s;
    connect(y, node, {&x_in});
  }
  return y;
}

}  // namespace stuckat
