// Argument checks shared by the op implementations: a wrong shape or dtype reaching an op is a
// programming error, reported with the op name and the offending shape.
#pragma once
#include "framework/tensor.h"

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

[[noreturn]] inline void no_cuda_kernel(const char* op) {
  throw Error(fmt::format("{}: no CUDA kernel in this build yet; run on the CPU", op));
}

}  // namespace stuckat::ops_detail
