// ONNX-general conv2d (groups, dilation, per-side pads, per-axis strides): the plain reference
// loops and the fast float path.
// Fast path, per group g (K = c_in/groups * kh * kw, P = h_out * w_out):
//   forward   y_ng (c_out/groups, rows) = W_g (c_out/groups, K) * col_ng (K, rows), one GEMM per
//             (image, group, block of output rows); im2col lowers only that block's rows
//   backward  dcol (channels*kh*kw, P) = W_g^T rows * dy_ng, col2im -> dx; per (image, group,
//             block of input channels)
//             dW_g[:, block] = sum over images, in image order, of dy_ng * col_ng[block]^T; per
//             (group, block of input channels), each image lowered once by its block's owner
// One input channel per group (depthwise, also with a channel multiplier) makes those GEMMs
// degenerate (K = kh*kw), so it runs direct loops per channel plane instead.
// Every work item owns its outputs, and the blocks are fixed by the shape, never by the thread
// count: each element is summed in the same order on any number of threads (OpenMP over items,
// BLAS single-threaded inside, kernels/cpu/gemm.h).
#include "kernels/cpu/conv2d_general.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/small_gemm.h"

namespace stuckat::cpu {

// ---------------------------------------------------------------------------------------------
// Reference: plain loops, written for clarity (the test oracle).

template <typename T>
void conv2d_general_forward_ref(const T* x, const T* w, const T* b, T* y, const ConvGeneralShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out(), cig = s.c_in_group(), cog = s.c_out_group();
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.c_out; ++co) {
      const int64_t first_ci = (co / cog) * cig;  // the group's first input channel
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          T acc = b ? b[co] : T(0);
          for (int64_t ci = 0; ci < cig; ++ci)
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
                const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;  // zero padding
                acc += x[((n * s.c_in + first_ci + ci) * s.h + iy) * s.w + ix] *
                       w[((co * cig + ci) * s.kh + ky) * s.kw + kx];
              }
          y[((n * s.c_out + co) * ho + oy) * wo + ox] = acc;
        }
    }
}

// The forward loops again: each product x[i] * w[j] gives dy * w[j] to dx[i] and dy * x[i] to dw[j].
template <typename T>
void conv2d_general_backward_ref(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                                 const ConvGeneralShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out(), cig = s.c_in_group(), cog = s.c_out_group();
  if (dx)
    for (int64_t i = 0; i < s.n * s.c_in * s.h * s.w; ++i) dx[i] = T(0);
  for (int64_t i = 0; i < s.c_out * cig * s.kh * s.kw; ++i) dw[i] = T(0);
  if (db)
    for (int64_t co = 0; co < s.c_out; ++co) db[co] = T(0);

  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.c_out; ++co) {
      const int64_t first_ci = (co / cog) * cig;
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          const T g = dy[((n * s.c_out + co) * ho + oy) * wo + ox];
          if (db) db[co] += g;
          for (int64_t ci = 0; ci < cig; ++ci)
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
                const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                const int64_t xi = ((n * s.c_in + first_ci + ci) * s.h + iy) * s.w + ix;
                const int64_t wi = ((co * cig + ci) * s.kh + ky) * s.kw + kx;
                dw[wi] += g * x[xi];
                if (dx) dx[xi] += g * w[wi];
              }
        }
    }
}

template void conv2d_general_forward_ref<float>(const float*, const float*, const float*, float*,
                                                const ConvGeneralShape&);
template void conv2d_general_forward_ref<double>(const double*, const double*, const double*, double*,
                                                 const ConvGeneralShape&);
template void conv2d_general_backward_ref<float>(const float*, const float*, const float*, float*, float*, float*,
                                                 const ConvGeneralShape&);
template void conv2d_general_backward_ref<double>(const double*, const double*, const double*, double*, double*,
                                                  double*, const ConvGeneralShape&);

// ---------------------------------------------------------------------------------------------
// Fast float path.

namespace {

// Forward GEMMs take output rows in blocks of about this many pixels (a whole row at least), so
// a single image still spreads over the threads and its column block stays cache-sized.
constexpr int64_t kBlockPixels = 1024;
// Backward works on blocks of input channels covering about this many column-matrix rows.
constexpr int64_t kBlockColumnRows = 64;

// For kernel column kx: the output columns whose tap reads inside the image, [lo, hi), and the
// input column of output column ox, ox * stride_w + shift.
struct ColumnRun {
  int64_t lo, hi, shift;
};

std::vector<ColumnRun> column_runs(const ConvGeneralShape& s) {
  const int64_t wo = s.w_out();
  std::vector<ColumnRun> runs(static_cast<size_t>(s.kw));
  for (int64_t kx = 0; kx < s.kw; ++kx) {
    const int64_t shift = kx * s.dilation_w - s.pad_left;
    int64_t lo = shift >= 0 ? 0 : (-shift + s.stride_w - 1) / s.stride_w;  // ox * stride_w + shift >= 0
    const int64_t last = s.w - 1 - shift;                                 // ox * stride_w + shift <= w - 1
    const int64_t hi = last < 0 ? 0 : std::min(wo, last / s.stride_w + 1);
    if (lo > hi) lo = hi;
    runs[static_cast<size_t>(kx)] = {lo, hi, shift};
  }
  return runs;
}

// The input row that output row oy reads through kernel row ky (may lie in the padding).
inline int64_t input_row(int64_t oy, int64_t ky, const ConvGeneralShape& s) {
  return oy * s.stride_h - s.pad_top + ky * s.dilation_h;
}

// Lowers `channels` input planes (xc: (channels, h, w) of one image) for output rows [oy0, oy1):
// col (channels*kh*kw, (oy1-oy0)*w_out), row (ci, ky, kx), column (oy - oy0)*w_out + ox.
// Taps in the padding read 0.
void im2col_rows(const float* xc, int64_t channels, float* col, const ConvGeneralShape& s,
                 const std::vector<ColumnRun>& runs, int64_t oy0, int64_t oy1) {
  const int64_t wo = s.w_out(), cols = (oy1 - oy0) * wo;
  for (int64_t ci = 0; ci < channels; ++ci)
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const ColumnRun& r = runs[static_cast<size_t>(kx)];
        float* row = col + ((ci * s.kh + ky) * s.kw + kx) * cols;
        for (int64_t oy = oy0; oy < oy1; ++oy) {
          float* out = row + (oy - oy0) * wo;
          const int64_t iy = input_row(oy, ky, s);
          if (iy < 0 || iy >= s.h) {
            std::memset(out, 0, static_cast<size_t>(wo) * sizeof(float));
            continue;
          }
          const float* in = xc + (ci * s.h + iy) * s.w;
          for (int64_t ox = 0; ox < r.lo; ++ox) out[ox] = 0.0f;
          if (s.stride_w == 1)
            for (int64_t ox = r.lo; ox < r.hi; ++ox) out[ox] = in[ox + r.shift];
          else
            for (int64_t ox = r.lo; ox < r.hi; ++ox) out[ox] = in[ox * s.stride_w + r.shift];
          for (int64_t ox = r.hi; ox < wo; ++ox) out[ox] = 0.0f;
        }
      }
}

// The reverse of im2col_rows over all output rows: dxc (channels, h, w) is OVERWRITTEN with the
// sum of every column entry that read each pixel, in (ci, ky, kx, oy, ox) order.
void col2im(const float* dcol, int64_t channels, float* dxc, const ConvGeneralShape& s,
            const std::vector<ColumnRun>& runs) {
  const int64_t ho = s.h_out(), wo = s.w_out(), p = ho * wo;
  std::memset(dxc, 0, static_cast<size_t>(channels * s.h * s.w) * sizeof(float));
  for (int64_t ci = 0; ci < channels; ++ci)
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const ColumnRun& r = runs[static_cast<size_t>(kx)];
        const float* row = dcol + ((ci * s.kh + ky) * s.kw + kx) * p;
        for (int64_t oy = 0; oy < ho; ++oy) {
          const int64_t iy = input_row(oy, ky, s);
          if (iy < 0 || iy >= s.h) continue;
          const float* in = row + oy * wo;
          float* out = dxc + (ci * s.h + iy) * s.w;
          for (int64_t ox = r.lo; ox < r.hi; ++ox) out[ox * s.stride_w + r.shift] += in[ox];
        }
      }
}

// db[co] = sum over images (in order) of the sum of its plane (row by row), one channel per item.
void bias_gradient(const float* dy, float* db, const ConvGeneralShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out();
#pragma omp parallel for schedule(static)
  for (int64_t co = 0; co < s.c_out; ++co) {
    float total = 0.0f;
    for (int64_t n = 0; n < s.n; ++n) {
      const float* plane = dy + (n * s.c_out + co) * ho * wo;
      for (int64_t oy = 0; oy < ho; ++oy) {
        float row = 0.0f;
        for (int64_t ox = 0; ox < wo; ++ox) row += plane[oy * wo + ox];
        total += row;
      }
    }
    db[co] = total;
  }
}

// --- one input channel per group: direct loops per plane -------------------------------------

void depthwise_forward(const float* x, const float* w, const float* b, float* y, const ConvGeneralShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out(), cog = s.c_out_group();
  const std::vector<ColumnRun> runs = column_runs(s);
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < s.n * s.c_out; ++plane) {
    const int64_t n = plane / s.c_out, co = plane % s.c_out;
    const float* xp = x + (n * s.c_in + co / cog) * s.h * s.w;
    const float* wk = w + co * s.kh * s.kw;
    for (int64_t oy = 0; oy < ho; ++oy) {
      float* out = y + (plane * ho + oy) * wo;
      const float start = b ? b[co] : 0.0f;
      for (int64_t ox = 0; ox < wo; ++ox) out[ox] = start;
      for (int64_t ky = 0; ky < s.kh; ++ky) {  // taps in (ky, kx) order, like the reference
        const int64_t iy = input_row(oy, ky, s);
        if (iy < 0 || iy >= s.h) continue;
        const float* in = xp + iy * s.w;
        for (int64_t kx = 0; kx < s.kw; ++kx) {
          const ColumnRun& r = runs[static_cast<size_t>(kx)];
          const float wv = wk[ky * s.kw + kx];
          if (s.stride_w == 1)
            for (int64_t ox = r.lo; ox < r.hi; ++ox) out[ox] += wv * in[ox + r.shift];
          else
            for (int64_t ox = r.lo; ox < r.hi; ++ox) out[ox] += wv * in[ox * s.stride_w + r.shift];
        }
      }
    }
  }
}

void depthwise_backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                        const ConvGeneralShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out(), cog = s.c_out_group();
  const std::vector<ColumnRun> runs = column_runs(s);
  if (dx) {
    // One input plane per item: the group's output channels in order, each scattered back.
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < s.n * s.c_in; ++plane) {
      const int64_t n = plane / s.c_in, ci = plane % s.c_in;
      float* dxp = dx + plane * s.h * s.w;
      std::memset(dxp, 0, static_cast<size_t>(s.h * s.w) * sizeof(float));
      for (int64_t co = ci * cog; co < (ci + 1) * cog; ++co) {
        const float* wk = w + co * s.kh * s.kw;
        const float* dyp = dy + (n * s.c_out + co) * ho * wo;
        for (int64_t oy = 0; oy < ho; ++oy)
          for (int64_t ky = 0; ky < s.kh; ++ky) {
            const int64_t iy = input_row(oy, ky, s);
            if (iy < 0 || iy >= s.h) continue;
            float* out = dxp + iy * s.w;
            const float* g = dyp + oy * wo;
            for (int64_t kx = 0; kx < s.kw; ++kx) {
              const ColumnRun& r = runs[static_cast<size_t>(kx)];
              const float wv = wk[ky * s.kw + kx];
              for (int64_t ox = r.lo; ox < r.hi; ++ox) out[ox * s.stride_w + r.shift] += wv * g[ox];
            }
          }
      }
    }
  }
  // One filter per item: each tap summed over images in order, row by row.
#pragma omp parallel for schedule(static)
  for (int64_t co = 0; co < s.c_out; ++co) {
    const int64_t ci = co / cog;
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const ColumnRun& r = runs[static_cast<size_t>(kx)];
        float total = 0.0f;
        for (int64_t n = 0; n < s.n; ++n) {
          const float* xp = x + (n * s.c_in + ci) * s.h * s.w;
          const float* dyp = dy + (n * s.c_out + co) * ho * wo;
          for (int64_t oy = 0; oy < ho; ++oy) {
            const int64_t iy = input_row(oy, ky, s);
            if (iy < 0 || iy >= s.h) continue;
            const float* in = xp + iy * s.w;
            const float* g = dyp + oy * wo;
            float row = 0.0f;
            for (int64_t ox = r.lo; ox < r.hi; ++ox) row += g[ox] * in[ox * s.stride_w + r.shift];
            total += row;
          }
        }
        dw[(co * s.kh + ky) * s.kw + kx] = total;
      }
  }
}

}  // namespace

void conv2d_general_forward(const float* x, const float* w, const float* b, float* y, const ConvGeneralShape& s) {
  if (s.c_in_group() == 1) {
    depthwise_forward(x, w, b, y, s);
    return;
  }
  ensure_single_threaded_blas();
  const int64_t ho = s.h_out(), wo = s.w_out(), p = ho * wo;
  const int64_t cig = s.c_in_group(), cog = s.c_out_group(), k = cig * s.kh * s.kw;
  const int64_t block_rows = std::max<int64_t>(1, kBlockPixels / wo);
  const int64_t blocks = (ho + block_rows - 1) / block_rows;
  const std::vector<ColumnRun> runs = column_runs(s);
#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < s.n * s.groups * blocks; ++item) {
    const int64_t block = item % blocks, g = (item / blocks) % s.groups, n = item / (blocks * s.groups);
    const int64_t oy0 = block * block_rows, oy1 = std::min(ho, oy0 + block_rows), cols = (oy1 - oy0) * wo;
    thread_local std::vector<float> col_buffer;
    float* col = grow_workspace(col_buffer, k * cols);
    im2col_rows(x + (n * s.c_in + g * cig) * s.h * s.w, cig, col, s, runs, oy0, oy1);
    float* yg = y + (n * s.c_out + g * cog) * p + oy0 * wo;  // rows p apart
    if (b)  // start from the bias and let the GEMM accumulate onto it
      for (int64_t co = 0; co < cog; ++co)
        for (int64_t i = 0; i < cols; ++i) yg[co * p + i] = b[g * cog + co];
    gemm_strided_a(cog, cols, k, w + g * cog * k, k, 1, col, cols, yg, p, b != nullptr);
  }
}

void conv2d_general_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                             const ConvGeneralShape& s) {
  if (db) bias_gradient(dy, db, s);
  if (s.c_in_group() == 1) {
    depthwise_backward(x, w, dy, dx, dw, s);
    return;
  }
  ensure_single_threaded_blas();
  const int64_t p = s.h_out() * s.w_out(), taps = s.kh * s.kw;
  const int64_t cig = s.c_in_group(), cog = s.c_out_group(), k = cig * taps;
  const int64_t block_channels = std::max<int64_t>(1, kBlockColumnRows / taps);
  const int64_t blocks = (cig + block_channels - 1) / block_channels;
  const std::vector<ColumnRun> runs = column_runs(s);

  if (dx) {
#pragma omp parallel for schedule(static)
    for (int64_t item = 0; item < s.n * s.groups * blocks; ++item) {
      const int64_t block = item % blocks, g = (item / blocks) % s.groups, n = item / (blocks * s.groups);
      const int64_t c0 = block * block_channels, channels = std::min(cig, c0 + block_channels) - c0;
      thread_local std::vector<float> dcol_buffer;
      float* dcol = grow_workspace(dcol_buffer, channels * taps * p);
      // W_g^T restricted to the block's rows: A(i, co) = w_g[co * k + c0 * taps + i].
      gemm_strided_a(channels * taps, p, cog, w + g * cog * k + c0 * taps, 1, k, dy + (n * s.c_out + g * cog) * p, p,
                     dcol, p, false);
      col2im(dcol, channels, dx + (n * s.c_in + g * cig + c0) * s.h * s.w, s, runs);
    }
  }

#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < s.groups * blocks; ++item) {
    const int64_t block = item % blocks, g = item / blocks;
    const int64_t c0 = block * block_channels, channels = std::min(cig, c0 + block_channels) - c0;
    thread_local std::vector<float> col_buffer;
    float* col = grow_workspace(col_buffer, channels * taps * p);
    float* dw_block = dw + g * cog * k + c0 * taps;  // rows k apart
    for (int64_t n = 0; n < s.n; ++n) {  // images in order: the first overwrites, the rest add
      im2col_rows(x + (n * s.c_in + g * cig + c0) * s.h * s.w, channels, col, s, runs, 0, s.h_out());
      gemm_dot_rows(cog, channels * taps, p, dy + (n * s.c_out + g * cog) * p, p, col, p, dw_block, k, n > 0);
    }
  }
}

}  // namespace stuckat::cpu
