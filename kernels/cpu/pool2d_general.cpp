// ONNX-general max / average pooling: one templated loop per (n, c) plane, run plane after plane
// by the reference (the test oracle) and with OpenMP over planes by the fast float path, so both
// give the same values and the same argmax. Plain loops over (output, window); keep them that way.
#include "kernels/cpu/pool2d_general.h"

#include <algorithm>
#include <limits>

#include "kernels/cpu/pool2d_window.h"

namespace stuckat::cpu {
namespace {

// Below this many input elements an OpenMP fork costs more than the pooling itself.
constexpr int64_t kParallelMinElements = 1 << 15;

template <typename T>
void max_plane_forward(const T* xp, T* yp, int32_t* ap, const PoolGeneralShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  for (int64_t oy = 0; oy < ho; ++oy)
    for (int64_t ox = 0; ox < wo; ++ox) {
      int64_t best = -1;  // no tap inside the input yet
      for (int64_t ky = 0; ky < s.kh; ++ky) {
        const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
        if (iy < 0 || iy >= s.h) continue;
        for (int64_t kx = 0; kx < s.kw; ++kx) {
          const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
          if (ix < 0 || ix >= s.w) continue;
          const int64_t index = iy * s.w + ix;
          if (best < 0 || max_pool_takes(xp[index], xp[best])) best = index;
        }
      }
      yp[oy * wo + ox] = best < 0 ? -std::numeric_limits<T>::infinity() : xp[best];
      if (ap) ap[oy * wo + ox] = static_cast<int32_t>(best);
    }
}

template <typename T>
void max_plane_backward(const T* dyp, const int32_t* ap, T* dxp, const PoolGeneralShape& s) {
  std::fill(dxp, dxp + s.h * s.w, T(0));
  for (int64_t o = 0; o < s.h_out() * s.w_out(); ++o)
    if (ap[o] >= 0) dxp[ap[o]] += dyp[o];
}

// The taps of a window along one axis that lie inside the input, [lo, hi) in input coordinates,
// and how many cells the average divides by along that axis.
struct AxisWindow {
  int64_t lo, hi, count;
};

inline AxisWindow axis_window(int64_t o, int64_t in, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end,
                              bool count_include_pad) {
  const int64_t start = o * stride - pad_begin, end = start + k;  // start >= -pad_begin always
  const int64_t lo = std::max<int64_t>(start, 0), hi = std::min(end, in);
  return {lo, hi, count_include_pad ? std::min(end, in + pad_end) - start : hi - lo};
}

template <typename T>
void avg_plane_forward(const T* xp, T* yp, const PoolGeneralShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  for (int64_t oy = 0; oy < ho; ++oy) {
    const AxisWindow r = axis_window(oy, s.h, s.kh, s.stride_h, s.pad_top, s.pad_bottom, s.count_include_pad);
    for (int64_t ox = 0; ox < wo; ++ox) {
      const AxisWindow c = axis_window(ox, s.w, s.kw, s.stride_w, s.pad_left, s.pad_right, s.count_include_pad);
      T sum = 0;
      for (int64_t iy = r.lo; iy < r.hi; ++iy)
        for (int64_t ix = c.lo; ix < c.hi; ++ix) sum += xp[iy * s.w + ix];
      yp[oy * wo + ox] = sum / T(r.count * c.count);
    }
  }
}

template <typename T>
void avg_plane_backward(const T* dyp, T* dxp, const PoolGeneralShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  std::fill(dxp, dxp + s.h * s.w, T(0));
  for (int64_t oy = 0; oy < ho; ++oy) {
    const AxisWindow r = axis_window(oy, s.h, s.kh, s.stride_h, s.pad_top, s.pad_bottom, s.count_include_pad);
    for (int64_t ox = 0; ox < wo; ++ox) {
      const AxisWindow c = axis_window(ox, s.w, s.kw, s.stride_w, s.pad_left, s.pad_right, s.count_include_pad);
      const T share = dyp[oy * wo + ox] / T(r.count * c.count);
      for (int64_t iy = r.lo; iy < r.hi; ++iy)
        for (int64_t ix = c.lo; ix < c.hi; ++ix) dxp[iy * s.w + ix] += share;
    }
  }
}

// Runs body(p) for every plane p, on the OpenMP team when `parallel`.
template <typename Body>
void for_each_plane(const PoolGeneralShape& s, bool parallel, Body body) {
  const int64_t planes = s.n * s.c;
  if (!parallel || planes * s.h * s.w < kParallelMinElements) {
    for (int64_t p = 0; p < planes; ++p) body(p);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) body(p);
}

template <typename T>
void max_forward(const T* x, T* y, int32_t* argmax, const PoolGeneralShape& s, bool parallel) {
  const int64_t in = s.h * s.w, out = s.h_out() * s.w_out();
  for_each_plane(s, parallel, [&](int64_t p) {
    max_plane_forward(x + p * in, y + p * out, argmax ? argmax + p * out : nullptr, s);
  });
}

template <typename T>
void max_backward(const T* dy, const int32_t* argmax, T* dx, const PoolGeneralShape& s, bool parallel) {
  const int64_t in = s.h * s.w, out = s.h_out() * s.w_out();
  for_each_plane(s, parallel, [&](int64_t p) { max_plane_backward(dy + p * out, argmax + p * out, dx + p * in, s); });
}

template <typename T>
void avg_forward(const T* x, T* y, const PoolGeneralShape& s, bool parallel) {
  const int64_t in = s.h * s.w, out = s.h_out() * s.w_out();
  for_each_plane(s, parallel, [&](int64_t p) { avg_plane_forward(x + p * in, y + p * out, s); });
}

template <typename T>
void avg_backward(const T* dy, T* dx, const PoolGeneralShape& s, bool parallel) {
  const int64_t in = s.h * s.w, out = s.h_out() * s.w_out();
  for_each_plane(s, parallel, [&](int64_t p) { avg_plane_backward(dy + p * out, dx + p * in, s); });
}

}  // namespace

template <typename T>
void max_pool2d_general_forward_ref(const T* x, T* y, int32_t* argmax, const PoolGeneralShape& s) {
  max_forward(x, y, argmax, s, false);
}
template <typename T>
void max_pool2d_general_backward_ref(const T* dy, const int32_t* argmax, T* dx, const PoolGeneralShape& s) {
  max_backward(dy, argmax, dx, s, false);
}
template <typename T>
void avg_pool2d_general_forward_ref(const T* x, T* y, const PoolGeneralShape& s) {
  avg_forward(x, y, s, false);
}
template <typename T>
void avg_pool2d_general_backward_ref(const T* dy, T* dx, const PoolGeneralShape& s) {
  avg_backward(dy, dx, s, false);
}

#define STUCKAT_INSTANTIATE_POOL_GENERAL_REF(T)                                                              \
  template void max_pool2d_general_forward_ref<T>(const T*, T*, int32_t*, const PoolGeneralShape&);          \
  template void max_pool2d_general_backward_ref<T>(const T*, const int32_t*, T*, const PoolGeneralShape&);   \
  template void avg_pool2d_general_forward_ref<T>(const T*, T*, const PoolGeneralShape&);                    \
  template void avg_pool2d_general_backward_ref<T>(const T*, T*, const PoolGeneralShape&);
STUCKAT_INSTANTIATE_POOL_GENERAL_REF(float)
STUCKAT_INSTANTIATE_POOL_GENERAL_REF(double)
#undef STUCKAT_INSTANTIATE_POOL_GENERAL_REF

void max_pool2d_general_forward(const float* x, float* y, int32_t* argmax, const PoolGeneralShape& s) {
  max_forward(x, y, argmax, s, true);
}
void max_pool2d_general_backward(const float* dy, const int32_t* argmax, float* dx, const PoolGeneralShape& s) {
  max_backward(dy, argmax, dx, s, true);
}
void avg_pool2d_general_forward(const float* x, float* y, const PoolGeneralShape& s) { avg_forward(x, y, s, true); }
void avg_pool2d_general_backward(const float* dy, float* dx, const PoolGeneralShape& s) {
  avg_backward(dy, dx, s, true);
}

}  // namespace stuckat::cpu
