// Reference pooling loops: the test oracle for the fast CPU path and the CUDA kernels. Plain
// loops over (plane, output, window), no tricks; keep them that way.

#include "kernels/cpu/pool2d.h"
#include "kernels/cpu/pool2d_window.h"

namespace stuckat::cpu {

template <typename T>
void max_pool2d_forward_ref(const T* x, T* y, int32_t* argmax, const Pool2dShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    const T* xp = x + p * s.h * s.w;
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        int64_t best_index = oy * s.stride * s.w + ox * s.stride;
        for (int64_t ky = 0; ky < s.k; ++ky) {
          for (int64_t kx = 0; kx < s.k; ++kx) {
            int64_t index = (oy * s.stride + ky) * s.w + ox * s.stride + kx;
            if (max_pool_takes(xp[index], xp[best_index])) best_index = index;
          }
        }
        y[(p * ho + oy) * wo + ox] = xp[best_index];
        argmax[(p * ho + oy) * wo + ox] = static_cast<int32_t>(best_index);
      }
    }
  }
}

template <typename T>
void max_pool2d_backward_ref(const T* dy, const int32_t* argmax, T* dx, const Pool2dShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  for (int64_t i = 0; i < s.n * s.c * s.h * s.w; ++i) dx[i] = T(0);
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    for (int64_t o = 0; o < ho * wo; ++o) dx[p * s.h * s.w + argmax[p * ho * wo + o]] += dy[p * ho * wo + o];
  }
}

template <typename T>
void avg_pool2d_forward_ref(const T* x, T* y, const Pool2dShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    const T* xp = x + p * s.h * s.w;
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        T sum = 0;
        for (int64_t ky = 0; ky < s.k; ++ky)
          for (int64_t kx = 0; kx < s.k; ++kx) sum += xp[(oy * s.stride + ky) * s.w + ox * s.stride + kx];
        y[(p * ho + oy) * wo + ox] = sum / T(s.k * s.k);
      }
    }
  }
}

template <typename T>
void avg_pool2d_backward_ref(const T* dy, T* dx, const Pool2dShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  for (int64_t i = 0; i < s.n * s.c * s.h * s.w; ++i) dx[i] = T(0);
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    T* dxp = dx + p * s.h * s.w;
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        T share = dy[(p * ho + oy) * wo + ox] / T(s.k * s.k);
        for (int64_t ky = 0; ky < s.k; ++ky)
          for (int64_t kx = 0; kx < s.k; ++kx) dxp[(oy * s.stride + ky) * s.w + ox * s.stride + kx] += share;
      }
    }
  }
}

template <typename T>
void adaptive_avg_pool2d_forward_ref(const T* x, T* y, const AdaptivePool2dShape& s) {
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    const T* xp = x + p * s.h * s.w;
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        int64_t y0 = adaptive_bin_start(oy, s.h, s.oh), y1 = adaptive_bin_end(oy, s.h, s.oh);
        int64_t x0 = adaptive_bin_start(ox, s.w, s.ow), x1 = adaptive_bin_end(ox, s.w, s.ow);
        T sum = 0;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) sum += xp[iy * s.w + ix];
        y[(p * s.oh + oy) * s.ow + ox] = sum / T((y1 - y0) * (x1 - x0));
      }
    }
  }
}

template <typename T>
void adaptive_avg_pool2d_backward_ref(const T* dy, T* dx, const AdaptivePool2dShape& s) {
  for (int64_t i = 0; i < s.n * s.c * s.h * s.w; ++i) dx[i] = T(0);
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    T* dxp = dx + p * s.h * s.w;
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        int64_t y0 = adaptive_bin_start(oy, s.h, s.oh), y1 = adaptive_bin_end(oy, s.h, s.oh);
        int64_t x0 = adaptive_bin_start(ox, s.w, s.ow), x1 = adaptive_bin_end(ox, s.w, s.ow);
        T share = dy[(p * s.oh + oy) * s.ow + ox] / T((y1 - y0) * (x1 - x0));
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) dxp[iy * s.w + ix] += share;
      }
    }
  }
}

#define STUCKAT_INSTANTIATE_POOL_REF(T)                                                                        \
  template void max_pool2d_forward_ref<T>(const T*, T*, int32_t*, const Pool2dShape&);                         \
  template void max_pool2d_backward_ref<T>(const T*, const int32_t*, T*, const Pool2dShape&);                  \
  template void avg_pool2d_forward_ref<T>(const T*, T*, const Pool2dShape&);                                   \
  template void avg_pool2d_backward_ref<T>(const T*, T*, const Pool2dShape&);                                  \
  template void adaptive_avg_pool2d_forward_ref<T>(const T*, T*, const AdaptivePool2dShape&);                  \
  template void adaptive_avg_pool2d_backward_ref<T>(const T*, T*, const AdaptivePool2dShape&);
STUCKAT_INSTANTIATE_POOL_REF(float)
STUCKAT_INSTANTIATE_POOL_REF(double)
#undef STUCKAT_INSTANTIATE_POOL_REF

}  // namespace stuckat::cpu
