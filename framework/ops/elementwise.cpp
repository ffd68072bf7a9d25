// Elementwise add (residual connections), in-place accumulation used by autograd, and the
// non-differentiable sub_inplace / add_into of fault sweeps.
#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "kernels/cuda/add.h"

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

void sub_cpu(const float* a, const float* b, float* out, int64_t n) {
#pragma omp parallel for simd if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] - b[i];
}

// out = a + b (or a - b when `subtract`) on the tensors' device (out may alias a).
void add_on(Device device, const float* a, const float* b, float* out, int64_t n, bool subtract = false) {
  if (device == Device::CUDA) {
    if (subtract)
      cuda::sub_forward(a, b, out, n);
    else
      cuda::add_forward(a, b, out, n);
  } else if (subtract) {
    sub_cpu(a, b, out, n);
  } else {
    add_cpu(a, b, out, n);
  }
}

// dst op= src for add_inplace / sub_inplace.
void accumulate(const char* op, Tensor& dst, const Tensor& src_in, bool subtract) {
  require_f32(op, "dst", dst);
  require_f32(op, "src", src_in);
  require_same_device(op, dst, src_in);
  STUCKAT_CHECK(dst.shape() == src_in.shape() && dst.is_contiguous(), "{}: {} and {}", op, shape_str(dst.shape()),
                shape_str(src_in.shape()));
  Tensor src = src_in.contiguous();
  add_on(dst.device(), dst.data<float>(), src.data<float>(), dst.data<float>(), dst.numel(), subtract);
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
  add_on(a.device(), a.data<float>(), b.data<float>(), y.data<float>(), a.numel());
  if (any_requires_grad({&a_in, &b_in})) connect(y, std::make_shared<AddBackward>(), {&a_in, &b_in});
  return y;
}

void add_inplace(Tensor& dst, const Tensor& src) { accumulate("add_inplace", dst, src, false); }

void sub_inplace(Tensor& dst, const Tensor& src) { accumulate("sub_inplace", dst, src, true); }

void add_into(Tensor& out, const Tensor& a_in, const Tensor& b_in) {
  require_f32("add_into", "out", out);
  require_f32("add_into", "a", a_in);
  require_f32("add_into", "b", b_in);
  require_same_device("add_into", out, a_in);
  require_same_device("add_into", out, b_in);
  STUCKAT_CHECK(out.shape() == a_in.shape() && a_in.shape() == b_in.shape() && out.is_contiguous(),
                "add_into: {} = {} + {}", shape_str(out.shape()), shape_str(a_in.shape()), shape_str(b_in.shape()));
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  add_on(out.device(), a.data<float>(), b.data<float>(), out.data<float>(), out.numel());
}

void add_tiled_into(Tensor& out, const Tensor& tile_in, const Tensor& b_in) {
  require_f32("add_tiled_into", "out", out);
  require_f32("add_tiled_into", "tile", tile_in);
  require_f32("add_tiled_into", "b", b_in);
  require_same_device("add_tiled_into", out, tile_in);
  require_same_device("add_tiled_into", out, b_in);
  const int64_t n = out.numel(), m = tile_in.numel();
  STUCKAT_CHECK(out.shape() == b_in.shape() && out.is_contiguous() && m >= 1 && n % m == 0,
                "add_tiled_into: {} = {} + tiles of {}", shape_str(out.shape()), shape_str(b_in.shape()),
                shape_str(tile_in.shape()));
  Tensor tile = tile_in.contiguous(), b = b_in.contiguous();
  const float* t = tile.data<float>();
  const float* bp = b.data<float>();
  float* o = out.data<float>();
  if (out.device() == Device::CUDA) {
    cuda::add_tiled_forward(t, m, bp, o, n);
    return;
  }
#pragma omp parallel for if (n > 65536)
  for (int64_t r = 0; r < n / m; ++r)
    for (int64_t i = 0; i < m; ++i) o[r * m + i] = t[i] + bp[r * m + i];
}

}  // namespace stuckat
