// batch_norm op: training mode (batch statistics, running-stat update, autograd) and eval mode.
#include "kernels/cpu/batch_norm.h"

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "kernels/cuda/batch_norm.h"

namespace stuckat {
namespace {
using namespace ops_detail;

struct BatchNormBackward : Node {
  Tensor x, gamma, save_mean, save_invstd;
  cpu::BatchNormShape s;
  const char* name() const override { return "BatchNormBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(x.shape(), DType::F32, x.device());
    Tensor dgamma = Tensor::empty({s.c}, DType::F32, x.device());
    Tensor dbeta = Tensor::empty({s.c}, DType::F32, x.device());
    if (x.device() == Device::CUDA) {
      cuda::batch_norm_backward(x.data<float>(), gamma.data<float>(), save_mean.data<float>(),
                                save_invstd.data<float>(), dy.data<float>(), dx.data<float>(),
                                dgamma.data<float>(), dbeta.data<float>(), s);
    } else {
      cpu::batch_norm_backward(x.data<float>(), gamma.data<float>(), save_mean.data<float>(),
                               save_invstd.data<float>(), dy.data<float>(), dx.data<float>(),
                               dgamma.data<float>(), dbeta.data<float>(), s);
    }
    return {dx, dgamma, dbeta};
  }
};

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, float momentum, float eps) {
  const char* op = "batch_norm";
  require_f32(op, "input", x_in);
  STUCKAT_CHECK(x_in.dim() == 2 || x_in.dim() == 4, "batch_norm: input must be (n, c) or (n, c, h, w), got {}",
                shape_str(x_in.shape()));
  Tensor x = x_in.contiguous();
  int64_t c = x.size(1);
  for (const Tensor* t : std::initializer_list<const Tensor*>{&gamma, &beta, &running_mean, &running_var}) {
    require_f32(op, "parameter", *t);
    STUCKAT_CHECK(t->numel() == c && t->is_contiguous(), "batch_norm: per-channel tensor {} for {} channels",
                  shape_str(t->shape()), c);
    require_same_device(op, x, *t);
  }
  cpu::BatchNormShape s{x.size(0), c, x.dim() == 4 ? x.size(2) * x.size(3) : 1};
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  if (!training) {
    if (x.device() == Device::CUDA) {
      cuda::batch_norm_forward_eval(x.data<float>(), gamma.data<float>(), beta.data<float>(),
                                    running_mean.data<float>(), running_var.data<float>(), eps, y.data<float>(), s);
    } else {
      cpu::batch_norm_forward_eval(x.data<float>(), gamma.data<float>(), beta.data<float>(),
                                   running_mean.data<float>(), running_var.data<float>(), eps, y.data<float>(), s);
    }
    return y;  // eval mode is used without gradients (evaluation, fault sweeps)
  }
  STUCKAT_CHECK(s.n * s.hw > 1, "batch_norm: training needs more than one value per channel, got input {}",
                shape_str(x.shape()));
  Tensor save_mean = Tensor::empty({c}, DType::F32, x.device());
  Tensor save_invstd = Tensor::empty({c}, DType::F32, x.device());
  if (x.device() == Device::CUDA) {
    cuda::batch_norm_forward_train(x.data<float>(), gamma.data<float>(), beta.data<float>(), y.data<float>(),
                                   save_mean.data<float>(), save_invstd.data<float>(), running_mean.data<float>(),
                                   running_var.data<float>(), momentum, eps, s);
  } else {
    cpu::batch_norm_forward_train(x.data<float>(), gamma.data<float>(), beta.data<float>(), y.data<float>(),
                                  save_mean.data<float>(), save_invstd.data<float>(), running_mean.data<float>(),
                                  running_var.data<float>(), momentum, eps, s);
  }
  if (any_requires_grad({&x_in, &gamma, &beta})) {
    auto node = std::make_shared<BatchNormBackward>();
    node->x = x.detach();
    node->gamma = gamma.detach();
    node->save_mean = save_mean;
    node->save_invstd = save_invstd;
    node->s = s;
    connect(y, node, {&x_in, &gamma, &beta});
  }
  return y;
}

}  // namespace stuckat
