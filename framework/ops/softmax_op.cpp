// softmax / log-softmax over one axis and its autograd node (the backward needs only the
// output, so the input is not kept). On the CPU and on CUDA (kernels/cuda/softmax.h).
#include "framework/autograd.h"
#include "framework/ops/elementwise_ops.h"
#include "framework/ops/op_checks.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/softmax.h"

namespace stuckat {
namespace {
using namespace ops_detail;

struct SoftmaxBackward : Node {
  Tensor y;
  cpu::SoftmaxShape shape{};
  bool log = false;
  const char* name() const override { return log ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(y.shape(), DType::F32, y.device());
    if (y.device() == Device::CUDA) {
      cuda::softmax_backward(y.data<float>(), dy.data<float>(), dx.data<float>(), shape, log);
    } else {
      cpu::softmax_backward(y.data<float>(), dy.data<float>(), dx.data<float>(), shape, log);
    }
    return {dx};
  }
};

}  // namespace

Tensor softmax(const Tensor& x_in, int64_t axis, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  require_f32(name, "input", x_in);
  const int64_t r = x_in.dim();
  STUCKAT_CHECK(axis >= -r && axis < r, "{}: axis {} out of range for shape {}", name, axis, shape_str(x_in.shape()));
  if (axis < 0) axis += r;
  const Shape& dims = x_in.shape();
  cpu::SoftmaxShape s{1, dims[axis], 1};
  for (int64_t d = 0; d < axis; ++d) s.outer *= dims[d];
  for (int64_t d = axis + 1; d < r; ++d) s.inner *= dims[d];
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  if (x.device() == Device::CUDA) {
    cuda::softmax_forward(x.data<float>(), y.data<float>(), s, log);
  } else {
    cpu::softmax_forward(x.data<float>(), y.data<float>(), s, log);
  }
  if (any_requires_grad({&x_in})) {
    auto node = std::make_shared<SoftmaxBackward>();
    node->y = y.detach();
    node->shape = s;
    node->log = log;
    connect(y, node, {&x_in});
  }
  return y;
}

}  // namespace stuckat
