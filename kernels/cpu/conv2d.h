// conv2d on the CPU: a plain reference (the test oracle, templated so gradient checks can run
// in double) and the fast float path with the same raw-pointer signature.
// Layouts, all row-major and contiguous:
//   x: (n, c_in, h, w)   w: (c_out, c_in, kh, kw)   b: (c_out) or nullptr
//   y: (n, c_out, h_out, w_out) with h_out = (h + 2*pad - kh) / stride + 1 (same for w)
// Backward overwrites dx, dw, db (no accumulation); dx and db may be nullptr when not needed.
#pragma once
#include <cstdint>

namespace stuckat::cpu {

struct Conv2dShape {
  int64_t n, c_in, h, w, c_out, kh, kw, stride, pad;
  int64_t h_out() const { return (h + 2 * pad - kh) / stride + 1; }
  int64_t w_out() const { return (w + 2 * pad - kw) / stride + 1; }
};

template <typename T>
void conv2d_forward_ref(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s);
template <typename T>
void conv2d_backward_ref(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, const Conv2dShape& s);

void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s);
// y = addend + conv (addend shaped like y), added image by image while the image's output is
// still in cache: the same values as adding it afterwards.
void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s,
                    const float* addend);
void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dShape& s);

}  // namespace stuckat::cpu
