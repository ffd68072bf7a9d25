// matmul (ONNX/numpy MatMul) and gemm (ONNX Gemm): checks, batch broadcasting, the kernels of
// kernels/cpu/matmul.h and the autograd nodes. gemm's common case is linear() (framework/ops.h);
// its general case is transpose + matmul + a private scale-and-broadcast-add op with its own node.
// Each kernel call has a CUDA twin (kernels/cuda/matmul.h) taken for CUDA tensors.
#include <algorithm>

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "framework/ops/tensor_ops.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/matmul.h"

namespace stuckat {
namespace {
using namespace ops_detail;

struct MatmulBackward : Node {
  Tensor a, b;  // detached, contiguous, rank >= 2
  cpu::MatmulShape s;
  bool needs_a = false, needs_b = false;
  const char* name() const override { return "MatmulBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    const Tensor dy = dy_in.contiguous();
    Tensor da = needs_a ? Tensor::empty(a.shape(), DType::F32, a.device()) : Tensor();
    Tensor db = needs_b ? Tensor::empty(b.shape(), DType::F32, b.device()) : Tensor();
    float* dap = needs_a ? da.data<float>() : nullptr;
    float* dbp = needs_b ? db.data<float>() : nullptr;
    if (a.device() == Device::CUDA) {
      cuda::matmul_backward(a.data<float>(), b.data<float>(), dy.data<float>(), dap, dbp, s);
    } else {
      cpu::matmul_backward(a.data<float>(), b.data<float>(), dy.data<float>(), dap, dbp, s);
    }
    return {da, db};
  }
};

// The product of operands of rank >= 2 whose inner dimensions agree: the batch dimensions
// (all but the last two) broadcast numpy-style. a_name / b_name: the caller's shapes, for messages.
Tensor matmul_batched(const Tensor& a_in, const Tensor& b_in, const Shape& a_name, const Shape& b_name) {
  const Shape &as = a_in.shape(), &bs = b_in.shape();
  const size_t ra = as.size() - 2, rb = bs.size() - 2, ro = std::max(ra, rb);  // batch ranks
  cpu::MatmulShape s;
  s.m = as[ra];
  s.k = as[ra + 1];
  s.n = bs[rb + 1];
  // Per output batch dimension: its size, and the step it takes in A's and B's matrix index.
  Shape out(ro), a_step(ro, 0), b_step(ro, 0);
  int64_t a_stride = 1, b_stride = 1;
  for (size_t d = ro; d-- > 0;) {
    const int64_t da = d + ra >= ro ? as[d + ra - ro] : 1, db = d + rb >= ro ? bs[d + rb - ro] : 1;
    STUCKAT_CHECK(da == db || da == 1 || db == 1, "matmul: batch dimensions of {} and {} do not broadcast",
                  shape_str(a_name), shape_str(b_name));
    out[d] = da == 1 ? db : da;
    if (da != 1) a_step[d] = a_stride;
    if (db != 1) b_step[d] = b_stride;
    a_stride *= da;
    b_stride *= db;
  }
  s.a_count = a_stride;
  s.b_count = b_stride;
  const int64_t batch = shape_numel(out);
  s.a_index.resize(static_cast<size_t>(batch));
  s.b_index.resize(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) {
    int64_t rem = i, ia = 0, ib = 0;
    for (size_t d = ro; d-- > 0;) {
      const int64_t idx = rem % out[d];
      rem /= out[d];
      ia += idx * a_step[d];
      ib += idx * b_step[d];
    }
    s.a_index[static_cast<size_t>(i)] = ia;
    s.b_index[static_cast<size_t>(i)] = ib;
  }
  out.push_back(s.m);
  out.push_back(s.n);
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor y = Tensor::empty(out, DType::F32, a.device());
  if (a.device() == Device::CUDA) {
    cuda::matmul_forward(a.data<float>(), b.data<float>(), y.data<float>(), s);
  } else {
    cpu::matmul_forward(a.data<float>(), b.data<float>(), y.data<float>(), s);
  }
  if (any_requires_grad({&a_in, &b_in})) {
    auto node = std::make_shared<MatmulBackward>();
    node->a = a.detach();
    node->b = b.detach();
    node->s = std::move(s);
    node->needs_a = a_in.requires_grad();
    node->needs_b = b_in.requires_grad();
    connect(y, node, {&a_in, &b_in});
  }
  return y;
}

// y (m, n) = alpha * p + beta * c, with c undefined or of rank <= 2 read through strides that
// are 0 along its broadcast dimensions. dc sums dy over them, row by row (a fixed order).
struct ScaleAddBackward : Node {
  float alpha = 1.0f, beta = 1.0f;
  int64_t m = 0, n = 0, c_row = 0, c_col = 0;
  int64_t cm = 1, cn = 1;  // c's sizes right-aligned to (m, n), for the CUDA kernel
  Shape c_shape;
  bool needs_p = false, needs_c = false;
  const char* name() const override { return "GemmScaleAddBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    const Tensor dy = dy_in.contiguous();
    const float* g = dy.data<float>();
    Tensor dp, dc;
    if (dy.device() == Device::CUDA) {
      if (needs_p) dp = Tensor::empty({m, n}, DType::F32, Device::CUDA);
      if (needs_c) dc = Tensor::empty(c_shape, DType::F32, Device::CUDA);
      cuda::gemm_scale_add_backward(g, alpha, beta, needs_p ? dp.data<float>() : nullptr,
                                    needs_c ? dc.data<float>() : nullptr, m, n, cm, cn);
      return {dp, dc};
    }
    if (needs_p) {
      dp = Tensor::empty({m, n});
      float* o = dp.data<float>();
      for (int64_t i = 0; i < m * n; ++i) o[i] = alpha * g[i];
    }
    if (needs_c) {
      dc = Tensor::zeros(c_shape);
      float* o = dc.data<float>();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) o[i * c_row + j * c_col] += g[i * n + j];
      for (int64_t i = 0; i < dc.numel(); ++i) o[i] *= beta;
    }
    return {dp, dc};
  }
};

Tensor scale_add(const Tensor& p_in, float alpha, const Tensor& c_in, float beta) {
  const Tensor p = p_in.contiguous();
  const int64_t m = p.size(0), n = p.size(1);
  const bool has_c = c_in.defined();
  const Tensor c = has_c ? c_in.contiguous() : Tensor();
  // c right-aligned to (m, n); the caller checked that each of its dimensions is 1 or equal.
  const int64_t cm = has_c && c.dim() == 2 ? c.size(0) : 1, cn = has_c && c.dim() >= 1 ? c.size(-1) : 1;
  const int64_t c_row = cm == 1 ? 0 : cn, c_col = cn == 1 ? 0 : 1;
  Tensor y = Tensor::empty({m, n}, DType::F32, p.device());
  const float* pp = p.data<float>();
  const float* cp = has_c ? c.data<float>() : nullptr;
  float* yp = y.data<float>();
  if (p.device() == Device::CUDA) {
    cuda::gemm_scale_add_forward(pp, alpha, cp, beta, yp, m, n, cm, cn);
  } else {
#pragma omp parallel for schedule(static) if (m * n >= (1 << 15))
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        yp[i * n + j] = alpha * pp[i * n + j] + (cp ? beta * cp[i * c_row + j * c_col] : 0.0f);
  }
  if (any_requires_grad({&p_in, &c_in})) {
    auto node = std::make_shared<ScaleAddBackward>();
    node->alpha = alpha;
    node->beta = beta;
    node->m = m;
    node->n = n;
    node->c_row = c_row;
    node->c_col = c_col;
    node->cm = cm;
    node->cn = cn;
    if (has_c) node->c_shape = c.shape();
    node->needs_p = p_in.requires_grad();
    node->needs_c = has_c && c_in.requires_grad();
    connect(y, node, {&p_in, &c_in});
  }
  return y;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  const char* op = "matmul";
  require_f32(op, "A", a_in);
  require_f32(op, "B", b_in);
  require_same_device(op, a_in, b_in);
  STUCKAT_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: operands need at least one dimension, got {} and {}",
                shape_str(a_in.shape()), shape_str(b_in.shape()));
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  const int64_t ka = a_in.size(-1), kb = b_vec ? b_in.size(0) : b_in.size(-2);
  STUCKAT_CHECK(ka == kb, "matmul: {} x {}: inner dimensions {} and {} differ", shape_str(a_in.shape()),
                shape_str(b_in.shape()), ka, kb);
  // 1-D operands become a row (A) or a column (B) matrix; the added dimension leaves the result.
  const Tensor a = a_vec ? reshape(a_in, {1, ka}) : a_in;
  const Tensor b = b_vec ? reshape(b_in, {kb, 1}) : b_in;
  Tensor y = matmul_batched(a, b, a_in.shape(), b_in.shape());
  if (!a_vec && !b_vec) return y;
  Shape out = y.shape();
  if (a_vec) out.erase(out.end() - 2);
  if (b_vec) out.pop_back();
  return reshape(y, out);
}

Tensor gemm(const Tensor& a, const Tensor& b, const Tensor& c, float alpha, float beta, bool trans_a, bool trans_b) {
  const char* op = "gemm";
  require_f32(op, "A", a);
  require_f32(op, "B", b);
  require_dim(op, "A", a, 2);
  require_dim(op, "B", b, 2);
  require_same_device(op, a, b);
  require_same_device(op, a, c);
  const int64_t m = a.size(trans_a ? 1 : 0), k = a.size(trans_a ? 0 : 1);
  const int64_t kb = b.size(trans_b ? 1 : 0), n = b.size(trans_b ? 0 : 1);
  STUCKAT_CHECK(k == kb, "gemm: A {} (trans_a {}) and B {} (trans_b {}) have inner dimensions {} and {}",
                shape_str(a.shape()), trans_a, shape_str(b.shape()), trans_b, k, kb);
  if (c.defined()) {
    require_f32(op, "C", c);
    const int64_t cm = c.dim() == 2 ? c.size(0) : 1, cn = c.dim() >= 1 ? c.size(-1) : 1;
    STUCKAT_CHECK(c.dim() <= 2 && (cm == 1 || cm == m) && (cn == 1 || cn == n),
                  "gemm: C {} does not broadcast to the ({}, {}) output", shape_str(c.shape()), m, n);
  }
  // The layer PyTorch exports for nn.Linear: y = x W^T + b.
  if (alpha == 1.0f && !trans_a && trans_b && (!c.defined() || (beta == 1.0f && c.dim() == 1 && c.size(0) == n)))
    return linear(a, b, c);
  const Tensor ap = trans_a ? transpose(a, {1, 0}) : a;
  const Tensor bp = trans_b ? transpose(b, {1, 0}) : b;
  const Tensor p = matmul(ap, bp);
  const bool use_c = c.defined() && beta != 0.0f;
  if (alpha == 1.0f && !use_c) return p;
  return scale_add(p, alpha, use_c ? c : Tensor(), beta);
}

}  // namespace stuckat
