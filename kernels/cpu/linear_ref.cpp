// Plain-loop fully connected layer (the test oracle), instantiated for float and double.
#include "kernels/cpu/linear.h"

namespace stuckat::cpu {

template <typename T>
void linear_forward_ref(const T* x, const T* w, const T* b, T* y, const LinearShape& s) {
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t o = 0; o < s.out; ++o) {
      T acc = b ? b[o] : T(0);
      for (int64_t i = 0; i < s.in; ++i) acc += x[n * s.in + i] * w[o * s.in + i];
      y[n * s.out + o] = acc;
    }
}

template <typename T>
void linear_backward_ref(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, const LinearShape& s) {
  if (dx)  // dx = dy W
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t i = 0; i < s.in; ++i) {
        T acc = T(0);
        for (int64_t o = 0; o < s.out; ++o) acc += dy[n * s.out + o] * w[o * s.in + i];
        dx[n * s.in + i] = acc;
      }
  for (int64_t o = 0; o < s.out; ++o)  // dw = dy^T x, summed over the batch
    for (int64_t i = 0; i < s.in; ++i) {
      T acc = T(0);
      for (int64_t n = 0; n < s.n; ++n) acc += dy[n * s.out + o] * x[n * s.in + i];
      dw[o * s.in + i] = acc;
    }
  if (db)
    for (int64_t o = 0; o < s.out; ++o) {
      T acc = T(0);
      for (int64_t n = 0; n < s.n; ++n) acc += dy[n * s.out + o];
      db[o] = acc;
    }
}

template void linear_forward_ref<float>(const float*, const float*, const float*, float*, const LinearShape&);
template void linear_forward_ref<double>(const double*, const double*, const double*, double*, const LinearShape&);
template void linear_backward_ref<float>(const float*, const float*, const float*, float*, float*, float*,
                                         const LinearShape&);
template void linear_backward_ref<double>(const double*, const double*, const double*, double*, double*, double*,
                                          const LinearShape&);

}  // namespace stuckat::cpu
