// im2col / col2im for one image. Each column-matrix row is one kernel tap (ci, ky, kx) over all
// output positions; for a given output row oy the valid ox form one contiguous run, so the inner
// loops are straight copies (contiguous for stride 1) with only the padded edges zero-filled.
#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstring>

namespace stuckat::cpu {
namespace {

// Output columns ox whose input column ox*stride - pad + kx lies inside [0, w): [lo, hi).
void valid_output_range(int64_t kx, const Conv2dShape& s, int64_t wo, int64_t& lo, int64_t& hi) {
  const int64_t first = s.pad - kx;  // ox*stride >= first
  lo = first <= 0 ? 0 : (first + s.stride - 1) / s.stride;
  const int64_t last = s.w - 1 + s.pad - kx;  // ox*stride <= last
  hi = last < 0 ? 0 : std::min(wo, last / s.stride + 1);
  if (lo > hi) lo = hi;
}

}  // namespace

void im2col(const float* x, float* col, const Conv2dShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  for (int64_t ci = 0; ci < s.c_in; ++ci)
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        int64_t lo, hi;
        valid_output_range(kx, s, wo, lo, hi);
        float* row = col + ((ci * s.kh + ky) * s.kw + kx) * ho * wo;
        for (int64_t oy = 0; oy < ho; ++oy) {
          float* out = row + oy * wo;
          const int64_t iy = oy * s.stride - s.pad + ky;
          if (iy < 0 || iy >= s.h) {
            std::memset(out, 0, static_cast<size_t>(wo) * sizeof(float));
            continue;
          }
          const float* in = x + (ci * s.h + iy) * s.w;
          const int64_t shift = kx - s.pad;  // input column = ox * stride + shift
          for (int64_t ox = 0; ox < lo; ++ox) out[ox] = 0.0f;
          // Rows are short (LeNet: 10-28 floats), so an inline loop beats a memcpy call.
          if (s.stride == 1)
            for (int64_t ox = lo; ox < hi; ++ox) out[ox] = in[ox + shift];
          else
            for (int64_t ox = lo; ox < hi; ++ox) out[ox] = in[ox * s.stride + shift];
          for (int64_t ox = hi; ox < wo; ++ox) out[ox] = 0.0f;
        }
      }
}

void col2im(const float* col, float* dx, const Conv2dShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  std::memset(dx, 0, static_cast<size_t>(s.c_in * s.h * s.w) * sizeof(float));
  for (int64_t ci = 0; ci < s.c_in; ++ci)
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        int64_t lo, hi;
        valid_output_range(kx, s, wo, lo, hi);
        const float* row = col + ((ci * s.kh + ky) * s.kw + kx) * ho * wo;
        for (int64_t oy = 0; oy < ho; ++oy) {
          const int64_t iy = oy * s.stride - s.pad + ky;
          if (iy < 0 || iy >= s.h) continue;
          const float* in = row + oy * wo;
          float* out = dx + (ci * s.h + iy) * s.w;
          const int64_t shift = kx - s.pad;
          for (int64_t ox = lo; ox < hi; ++ox) out[ox * s.stride + shift] += in[ox];
        }
      }
}

}  // namespace stuckat::cpu
