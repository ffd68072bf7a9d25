// Fully connected layer y = x W^T + b on the CPU: reference (templated) and fast float path.
//   x: (n, in)   w: (out, in)   b: (out) or nullptr   y: (n, out)
// Backward overwrites dx, dw, db; dx and db may be nullptr.
#pragma once
#include <cstdint>

namespace stuckat::cpu {

struct LinearShape {
  int64_t n, in, out;
};

template <typename T>
void linear_forward_ref(const T* x, const T* w, const T* b, T* y, const LinearShape& s);
template <typename T>
void linear_backward_ref(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, const LinearShape& s);

void linear_forward(const float* x, const float* w, const float* b, float* y, const LinearShape& s);
void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const LinearShape& s);

}  // namespace stuckat::cpu
