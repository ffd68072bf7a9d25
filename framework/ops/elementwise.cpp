// Elementwise add (residual connections) and in-place accumulation used by autograd.
#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"

namespace stuckat {
namespace {
using namespace ops_detail;

struct AddBackward : Node {
  const char* name() const override { return "AddBackward"; }
  // Both inputs receive the same gradient tensor; accumulation never writes into it in place.
  std::vector<Tensor> backward(const Tensor& dy) override { return {dy, dy}; }
};

void add_cpu(const float* a, const float* b, float* out, int64_t n) {
#pragma omp parallel for simd if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

}  // namespace

Tensor add(const Tensor& a_in, const Tensor& b_in) {
  require_f32("add", "a", a_in);
  require_f32("add", "b", b_in);
  require_same_device("add", a_in, b_in);
  STUCKAT_CHECK(a_in.shape() == b_in.shape(), "add: shapes {} and {} differ", shape_str(a_in.shape()),
                shape_str(b_in.shape()));
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor y = Tensor::empty(a.shape(), DType::F32, a.device());
  if (a.device() != Device::CPU) no_cuda_kernel("add");
  add_cpu(a.data<float>(), b.data<float>(), y.data<float>(), a.numel());
  if (any_requires_grad({&a_in, &b_in})) connect(y, std::make_shared<AddBackward>(), {&a_in, &b_in});
  return y;
}

void add_inplace(Tensor& dst, const Tensor& src_in) {
  require_f32("add_inplace", "dst", dst);
  require_f32("add_inplace", "src", src_in);
  require_same_device("add_inplace", dst, src_in);
  STUCKAT_CHECK(dst.shape() == src_in.shape() && dst.is_contiguous(), "add_inplace: {} += {}",
                shape_str(dst.shape()), shape_str(src_in.shape()));
  Tensor src = src_in.contiguous();
  if (dst.device() != Device::CPU) no_cuda_kernel("add_inplace");
  add_cpu(dst.data<float>(), src.data<float>(), dst.data<float>(), dst.numel());
}

}  // namespace stuckat
