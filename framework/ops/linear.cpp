// linear op (y = x W^T + b): checks, dispatch and autograd node.
#include "kernels/cpu/linear.h"

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#ifdef STUCKAT_WITH_CUDA
#include "kernels/cuda/linear.h"
#endif

namespace stuckat {
namespace {
using namespace ops_detail;

struct LinearBackward : Node {
  Tensor x, w;
  bool has_bias;
  cpu::LinearShape s;
  const char* name() const override { return "LinearBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    bool need_dx = next[0].fn || next[0].leaf;
    Tensor dx = need_dx ? Tensor::empty(x.shape(), DType::F32, x.device()) : Tensor();
    Tensor dw = Tensor::empty(w.shape(), DType::F32, w.device());
    Tensor db = has_bias ? Tensor::empty({s.out}, DType::F32, w.device()) : Tensor();
    float* dxp = need_dx ? dx.data<float>() : nullptr;
    float* dbp = has_bias ? db.data<float>() : nullptr;
    if (x.device() == Device::CUDA) {
#ifdef STUCKAT_WITH_CUDA
      cuda::linear_backward(x.data<float>(), w.data<float>(), dy.data<float>(), dxp, dw.data<float>(), dbp, s);
#else
      no_cuda_kernel("linear backward");
#endif
    } else {
      cpu::linear_backward(x.data<float>(), w.data<float>(), dy.data<float>(), dxp, dw.data<float>(), dbp, s);
    }
    return {dx, dw, db};
  }
};

}  // namespace

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in) {
  const char* op = "linear";
  require_f32(op, "input", x_in);
  require_f32(op, "weight", w_in);
  require_dim(op, "input", x_in, 2);
  require_dim(op, "weight", w_in, 2);
  require_same_device(op, x_in, w_in);
  require_same_device(op, x_in, b_in);
  STUCKAT_CHECK(x_in.size(1) == w_in.size(1), "linear: input {} has {} features, weight {} expects {}",
                shape_str(x_in.shape()), x_in.size(1), shape_str(w_in.shape()), w_in.size(1));
  Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  if (b.defined()) STUCKAT_CHECK(b.numel() == w.size(0), "linear: bias has {} values for {} outputs", b.numel(), w.size(0));
  cpu::LinearShape s{x.size(0), x.size(1), w.size(0)};
  Tensor y = Tensor::empty({s.n, s.out}, DType::F32, x.device());
  const float* bp = b.defined() ? b.data<float>() : nullptr;
  if (x.device() == Device::CUDA) {
#ifdef STUCKAT_WITH_CUDA
    cuda::linear_forward(x.data<float>(), w.data<float>(), bp, y.data<float>(), s);
#else
    no_cuda_kernel(op);
#endif
  } else {
    cpu::linear_forward(x.data<float>(), w.data<float>(), bp, y.data<float>(), s);
  }
  if (any_requires_grad({&x_in, &w_in, &b_in})) {
    auto node = std::make_shared<LinearBackward>();
    node->x = x.detach();
    node->w = w.detach();
    node->has_bias = b.defined();
    node->s = s;
    connect(y, node, {&x_in, &w_in, &b_in});
  }
  return y;
}

}  // namespace stuckat
