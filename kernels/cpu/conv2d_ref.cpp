// Plain-loop conv2d (the test oracle for the fast path and the CUDA kernels). Written for
// clarity, never for speed; instantiated for double so gradients can be checked by finite
// differences, and for float so the fast path can be compared in its own precision.
#include "kernels/cpu/conv2d.h"

namespace stuckat::cpu {

template <typename T>
void conv2d_forward_ref(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.c_out; ++co)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          T acc = b ? b[co] : T(0);
          for (int64_t ci = 0; ci < s.c_in; ++ci)
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t iy = oy * s.stride - s.pad + ky;
                const int64_t ix = ox * s.stride - s.pad + kx;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;  // zero padding
                acc += x[((n * s.c_in + ci) * s.h + iy) * s.w + ix] *
                       w[((co * s.c_in + ci) * s.kh + ky) * s.kw + kx];
              }
          y[((n * s.c_out + co) * ho + oy) * wo + ox] = acc;
        }
}

// Every forward product x[i] * w[j] contributes dy * w[j] to dx[i] and dy * x[i] to dw[j];
// walking the same loops as the forward pass makes that correspondence obvious.
template <typename T>
void conv2d_backward_ref(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, const Conv2dShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  if (dx)
    for (int64_t i = 0; i < s.n * s.c_in * s.h * s.w; ++i) dx[i] = T(0);
  for (int64_t i = 0; i < s.c_out * s.c_in * s.kh * s.kw; ++i) dw[i] = T(0);
  if (db)
    for (int64_t co = 0; co < s.c_out; ++co) db[co] = T(0);

  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.c_out; ++co)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          const T g = dy[((n * s.c_out + co) * ho + oy) * wo + ox];
          if (db) db[co] += g;
          for (int64_t ci = 0; ci < s.c_in; ++ci)
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t iy = oy * s.stride - s.pad + ky;
                const int64_t ix = ox * s.stride - s.pad + kx;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                const int64_t xi = ((n * s.c_in + ci) * s.h + iy) * s.w + ix;
                const int64_t wi = ((co * s.c_in + ci) * s.kh + ky) * s.kw + kx;
                dw[wi] += g * x[xi];
                if (dx) dx[xi] += g * w[wi];
              }
        }
}

template void conv2d_forward_ref<float>(const float*, const float*, const float*, float*, const Conv2dShape&);
template void conv2d_forward_ref<double>(const double*, const double*, const double*, double*, const Conv2dShape&);
template void conv2d_backward_ref<float>(const float*, const float*, const float*, float*, float*, float*,
                                         const Conv2dShape&);
template void conv2d_backward_ref<double>(const double*, const double*, const double*, double*, double*, double*,
                                          const Conv2dShape&);

}  // namespace stuckat::cpu
