// Argument checks shared by the op implementations: a wrong shape or dtype reaching an op is a
// programming error, reported with the op name and the offending shape.
#pragma once
#include "framework/tensor.h"
#include "kernels/cpu/conv2d.h"

namespace stuckat::ops_detail {

inline void require_f32(const char* op, const char* what, const Tensor& t) {
  STUCKAT_CHECK(t.defined(), "{}: {} is undefined", op, what);
  STUCKAT_CHECK(t.dtype() == DType::F32, "{}: {} must be f32, got {}", op, what, dtype_name(t.dtype()));
}

inline void require_dim(const char* op, const char* what, const Tensor& t, int64_t dim) {
  STUCKAT_CHECK(t.dim() == dim, "{}: {} must have {} dimensions, got shape {}", op, what, dim, shape_str(t.shape()));
}

inline void require_same_device(const char* op, const Tensor& a, const Tensor& b) {
  STUCKAT_CHECK(!b.defined() || a.device() == b.device(), "{}: inputs on {} and {}; move them with to()", op,
                device_name(a.device()), device_name(b.device()));
}

// The size checks conv2d, conv2d_multi and conv2d_add_into share: x (n, c_in, h, w) through
// filters whose shape ends in (c_out, c_in, kh, kw) (a leading dimension stacks weight sets),
// stride >= 1, pad >= 0, the padded input at least the kernel. Returns the convolution's shape.
inline cpu::Conv2dShape conv_shape(const char* op, const Tensor& x, const Shape& w, int64_t stride, int64_t pad) {
  const size_t r = w.size();
  STUCKAT_CHECK(x.size(1) == w[r - 3], "{}: input {} has {} channels, weight {} expects {}", op, shape_str(x.shape()),
                x.size(1), shape_str(w), w[r - 3]);
  STUCKAT_CHECK(stride >= 1 && pad >= 0, "{}: stride {} pad {}", op, stride, pad);
  const cpu::Conv2dShape s{x.size(0), x.size(1), x.size(2), x.size(3), w[r - 4], w[r - 2], w[r - 1], stride, pad};
  STUCKAT_CHECK(s.h + 2 * pad >= s.kh && s.w + 2 * pad >= s.kw, "{}: input {} smaller than kernel {}", op,
                shape_str(x.shape()), shape_str(w));
  return s;
}

}  // namespace stuckat::ops_detail
