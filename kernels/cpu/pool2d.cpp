// Fast float pooling for CPU training: one (n, c) plane per OpenMP iteration, a dedicated
// loop for the 2x2 stride-2 max pool that LeNet-5 and VGG use, and bin edges of adaptive
// pooling computed once per call. Results follow the reference loops in pool2d_ref.cpp (same
// window order, so max pool values and argmax are identical).
#include <algorithm>
#include <vector>

#include "kernels/cpu/pool2d.h"
#include "kernels/cpu/pool2d_window.h"

namespace stuckat::cpu {
namespace {

// Below this many input elements an OpenMP fork costs more than the pooling itself.
constexpr int64_t kParallelMinElements = 1 << 15;

void max_pool_plane_2x2_stride2(const float* xp, float* yp, int32_t* ap, int64_t w, int64_t ho, int64_t wo) {
  for (int64_t oy = 0; oy < ho; ++oy) {
    const float* r0 = xp + 2 * oy * w;
    const float* r1 = r0 + w;
    const auto top = static_cast<int32_t>(2 * oy * w), bottom = static_cast<int32_t>(2 * oy * w + w);
    float* y_row = yp + oy * wo;
    int32_t* a_row = ap + oy * wo;
    // Selects instead of branches, so the compiler can vectorise across outputs.
#pragma omp simd
    for (int64_t ox = 0; ox < wo; ++ox) {
      const auto col = static_cast<int32_t>(2 * ox);
      float best = r0[col];
      int32_t arg = top + col;
      bool take = max_pool_takes(r0[col + 1], best);
      best = take ? r0[col + 1] : best;
      arg = take ? top + col + 1 : arg;
      take = max_pool_takes(r1[col], best);
      best = take ? r1[col] : best;
      arg = take ? bottom + col : arg;
      take = max_pool_takes(r1[col + 1], best);
      best = take ? r1[col + 1] : best;
      arg = take ? bottom + col + 1 : arg;
      y_row[ox] = best;
      a_row[ox] = arg;
    }
  }
}

void max_pool_plane(const float* xp, float* yp, int32_t* ap, const Pool2dShape& s, int64_t ho, int64_t wo) {
  for (int64_t oy = 0; oy < ho; ++oy) {
    for (int64_t ox = 0; ox < wo; ++ox) {
      int64_t best_index = oy * s.stride * s.w + ox * s.stride;
      float best = xp[best_index];
      for (int64_t ky = 0; ky < s.k; ++ky) {
        const int64_t row = (oy * s.stride + ky) * s.w + ox * s.stride;
        for (int64_t kx = 0; kx < s.k; ++kx) {
          if (max_pool_takes(xp[row + kx], best)) best = xp[row + kx], best_index = row + kx;
        }
      }
      yp[oy * wo + ox] = best;
      ap[oy * wo + ox] = static_cast<int32_t>(best_index);
    }
  }
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* argmax, const Pool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w, ho = s.h_out(), wo = s.w_out();
  const bool two_by_two = s.k == 2 && s.stride == 2;
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    if (two_by_two)
      max_pool_plane_2x2_stride2(x + p * plane, y + p * ho * wo, argmax + p * ho * wo, s.w, ho, wo);
    else
      max_pool_plane(x + p * plane, y + p * ho * wo, argmax + p * ho * wo, s, ho, wo);
  }
}

void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, const Pool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w, outs = s.h_out() * s.w_out();
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    float* dxp = dx + p * plane;
    const float* dyp = dy + p * outs;
    const int32_t* ap = argmax + p * outs;
    std::fill(dxp, dxp + plane, 0.0f);
    // Overlapping windows (k > stride) can pick the same input twice, hence +=.
    for (int64_t o = 0; o < outs; ++o) dxp[ap[o]] += dyp[o];
  }
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w, ho = s.h_out(), wo = s.w_out();
  const auto window = static_cast<float>(s.k * s.k);
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * plane;
    float* yp = y + p * ho * wo;
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        const float* corner = xp + oy * s.stride * s.w + ox * s.stride;
        float sum = 0.0f;
        for (int64_t ky = 0; ky < s.k; ++ky)
          for (int64_t kx = 0; kx < s.k; ++kx) sum += corner[ky * s.w + kx];
        yp[oy * wo + ox] = sum / window;
      }
    }
  }
}

void avg_pool2d_backward(const float* dy, float* dx, const Pool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w, ho = s.h_out(), wo = s.w_out();
  const auto window = static_cast<float>(s.k * s.k);
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    float* dxp = dx + p * plane;
    const float* dyp = dy + p * ho * wo;
    std::fill(dxp, dxp + plane, 0.0f);
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        const float share = dyp[oy * wo + ox] / window;
        float* corner = dxp + oy * s.stride * s.w + ox * s.stride;
        for (int64_t ky = 0; ky < s.k; ++ky)
          for (int64_t kx = 0; kx < s.k; ++kx) corner[ky * s.w + kx] += share;
      }
    }
  }
}

namespace {
// Bin edges along one axis, computed once per call instead of once per output.
struct AdaptiveBins {
  std::vector<int64_t> start, end;
  AdaptiveBins(int64_t in, int64_t out) : start(out), end(out) {
    for (int64_t i = 0; i < out; ++i) start[i] = adaptive_bin_start(i, in, out), end[i] = adaptive_bin_end(i, in, out);
  }
};
}  // namespace

void adaptive_avg_pool2d_forward(const float* x, float* y, const AdaptivePool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w;
  const AdaptiveBins rows(s.h, s.oh), cols(s.w, s.ow);
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * plane;
    float* yp = y + p * s.oh * s.ow;
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        const int64_t x0 = cols.start[ox], x1 = cols.end[ox];
        float sum = 0.0f;
        for (int64_t iy = rows.start[oy]; iy < rows.end[oy]; ++iy) {
          const float* row = xp + iy * s.w;
#pragma omp simd reduction(+ : sum)
          for (int64_t ix = x0; ix < x1; ++ix) sum += row[ix];
        }
        yp[oy * s.ow + ox] = sum / static_cast<float>((rows.end[oy] - rows.start[oy]) * (x1 - x0));
      }
    }
  }
}

void adaptive_avg_pool2d_backward(const float* dy, float* dx, const AdaptivePool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w;
  const AdaptiveBins rows(s.h, s.oh), cols(s.w, s.ow);
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    float* dxp = dx + p * plane;
    const float* dyp = dy + p * s.oh * s.ow;
    std::fill(dxp, dxp + plane, 0.0f);
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        const int64_t x0 = cols.start[ox], x1 = cols.end[ox];
        const float share = dyp[oy * s.ow + ox] / static_cast<float>((rows.end[oy] - rows.start[oy]) * (x1 - x0));
        for (int64_t iy = rows.start[oy]; iy < rows.end[oy]; ++iy) {
          float* row = dxp + iy * s.w;
          for (int64_t ix = x0; ix < x1; ++ix) row[ix] += share;
        }
      }
    }
  }
}

}  // namespace stuckat::cpu
