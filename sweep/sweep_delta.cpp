// Sparse weight-change updates of conv/linear outputs, parallel over images.
#include "sweep/sweep_delta.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/pool2d.h"
#include "kernels/cpu/pool2d_window.h"
#include "kernels/cpu/simd.h"

namespace stuckat::sweep {
namespace {

// A conv weight change split into (output channel, input channel, ky, kx) and its delta.
struct ConvTap {
  int64_t o, ci, ky, kx;
  float d;
};

}  // namespace

std::vector<WeightChange> weight_changes(const float* clean, const float* faulted, int64_t n) {
  std::vector<WeightChange> changes;
  for (int64_t i = 0; i < n; ++i)
    if (std::memcmp(&clean[i], &faulted[i], sizeof(float)) != 0) changes.push_back({i, faulted[i] - clean[i]});
  return changes;
}

namespace {

// dst[0, count) = src[0, count): short rows (a conv output row, tens of floats) copied inline
// rather than through a memcpy call each.
inline void copy_row(float* dst, const float* src, int64_t count) {
  int64_t j = 0;
#ifdef STUCKAT_SIMD
  for (; j + cpu::simd::kLanes <= count; j += cpu::simd::kLanes) cpu::simd::vstore(dst + j, cpu::simd::vload(src + j));
#endif
  for (; j < count; ++j) dst[j] = src[j];
}

// wide[0, span) += t.d * (the padded input from tap t's (ci, ky, kx) on), for the taps in order:
// each element gets them one by one, as a plain loop over the taps would add them, but with up to
// 8 vectors of the run held in registers through all the taps (one load and store of the run,
// not one per tap).
#ifdef STUCKAT_SIMD
template <int V>
void add_taps_chunk(float* wide, const float* xi, int64_t hp, int64_t wp, const ConvTap* taps, int64_t count) {
  using namespace cpu::simd;
  vfloat acc[V];
  #pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[v] = vload(wide + v * kLanes);
  for (int64_t c = 0; c < count; ++c) {
    const float* src = xi + (taps[c].ci * hp + taps[c].ky) * wp + taps[c].kx;
    const vfloat d = vset1(taps[c].d);
    #pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[v] = vfmadd(d, vload(src + v * kLanes), acc[v]);
  }
  #pragma GCC unroll 8
  for (int v = 0; v < V; ++v) vstore(wide + v * kLanes, acc[v]);
}
using AddTapsChunk = void (*)(float*, const float*, int64_t, int64_t, const ConvTap*, int64_t);
const AddTapsChunk kAddTapsChunks[8] = {add_taps_chunk<1>, add_taps_chunk<2>, add_taps_chunk<3>, add_taps_chunk<4>,
                                        add_taps_chunk<5>, add_taps_chunk<6>, add_taps_chunk<7>, add_taps_chunk<8>};
#endif

void add_taps(float* wide, int64_t span, const float* xi, int64_t hp, int64_t wp, const ConvTap* taps, int64_t count) {
  int64_t j0 = 0;
#ifdef STUCKAT_SIMD
  constexpr int64_t kLanes = cpu::simd::kLanes;
  for (; j0 + kLanes <= span;) {
    const int64_t vectors = std::min<int64_t>(8, (span - j0) / kLanes);
    kAddTapsChunks[static_cast<size_t>(vectors - 1)](wide + j0, xi + j0, hp, wp, taps, count);
    j0 += vectors * kLanes;
  }
#endif
  for (int64_t c = 0; c < count; ++c) {  // the positions past the last whole vector
    const float* src = xi + (taps[c].ci * hp + taps[c].ky) * wp + taps[c].kx;
    for (int64_t j = j0; j < span; ++j) wide[j] = std::fma(taps[c].d, src[j], wide[j]);
  }
}

// Stride 1: per image and changed output channel, the plane is accumulated in "wide" rows of the
// padded input's width wp, so that a change (ci, ky, kx) adds d * x to one contiguous run of
// (ho - 1) * wp + wo elements (the padded plane from (ky, kx) on) instead of ho short rows: the
// columns past wo in each wide row take sums nobody reads, and the run never leaves the plane.
// The plane plane_of(img, o) goes into the wide rows before its changes, and every element gets
// its deltas added one by one in ascending weight order; then emit(img, o, wide, wp) takes them
// (and may overwrite them).
template <typename PlaneOf, typename Emit>
void for_changed_planes(const float* x, int64_t n, int64_t in, int64_t h, int64_t w, int64_t pad, int64_t ho,
                        int64_t wo, const std::vector<ConvTap>& taps, PlaneOf plane_of, Emit emit) {
  const int64_t hp = h + 2 * pad, wp = w + 2 * pad, span = (ho - 1) * wp + wo, nt = static_cast<int64_t>(taps.size());
  std::vector<char> used(static_cast<size_t>(in), 0);
  for (const ConvTap& t : taps) used[static_cast<size_t>(t.ci)] = 1;
#pragma omp parallel
  {
    thread_local std::vector<float> padded_buffer, wide_buffer;
    padded_buffer.resize(static_cast<size_t>(pad > 0 ? in * hp * wp : 0));
    wide_buffer.resize(static_cast<size_t>(ho * wp));
    float* wide = wide_buffer.data();
#pragma omp for schedule(static)
    for (int64_t img = 0; img < n; ++img) {
      const float* xi = x + img * in * h * w;
      if (pad > 0) {  // the channels the changes read, zero-padded
        float* dst = padded_buffer.data();
        for (int64_t ci = 0; ci < in; ++ci) {
          if (!used[static_cast<size_t>(ci)]) continue;
          float* plane = dst + ci * hp * wp;
          std::memset(plane, 0, static_cast<size_t>(hp * wp) * sizeof(float));
          for (int64_t r = 0; r < h; ++r)
            std::memcpy(plane + (r + pad) * wp + pad, xi + (ci * h + r) * w, static_cast<size_t>(w) * sizeof(float));
        }
        xi = dst;
      }
      for (int64_t c = 0; c < nt;) {  // the taps of one output channel, then the next
        const int64_t o = taps[static_cast<size_t>(c)].o;
        const float* yp = plane_of(img, o);
        for (int64_t oy = 0; oy < ho; ++oy) copy_row(wide + oy * wp, yp + oy * wo, wo);
        const int64_t c0 = c;
        while (c < nt && taps[static_cast<size_t>(c)].o == o) ++c;
        add_taps(wide, span, xi, hp, wp, taps.data() + c0, c - c0);
        emit(img, o, wide, wp);
      }
    }
  }
}

// Each change split once into (output channel, input channel, ky, kx), not per image; in
// ascending weight order, so grouped by output channel.
std::vector<ConvTap> conv_taps(const std::vector<WeightChange>& changes, int64_t in, int64_t out, int64_t kh,
                               int64_t kw) {
  std::vector<ConvTap> taps;
  for (const WeightChange& c : changes) {
    int64_t r = c.index;
    const int64_t kx = r % kw;
    r /= kw;
    const int64_t ky = r % kh;
    r /= kh;
    if (r / in < out) taps.push_back({r / in, r % in, ky, kx, c.delta});
  }
  return taps;
}

}  // namespace

void add_conv2d_weight_changes(const float* x, float* y, int64_t n, int64_t in, int64_t h, int64_t w, int64_t out,
                               int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t ho, int64_t wo,
                               const std::vector<WeightChange>& changes) {
  const std::vector<ConvTap> taps = conv_taps(changes, in, out, kh, kw);
  if (taps.empty() || ho <= 0 || wo <= 0) return;
  if (stride == 1) {
    for_changed_planes(x, n, in, h, w, pad, ho, wo, taps,
                       [&](int64_t img, int64_t o) { return y + (img * out + o) * ho * wo; },
                       [&](int64_t img, int64_t o, float* wide, int64_t wp) {
                         float* yp = y + (img * out + o) * ho * wo;
                         for (int64_t oy = 0; oy < ho; ++oy) copy_row(yp + oy * wo, wide + oy * wp, wo);
                       });
    return;
  }
  const int64_t nt = static_cast<int64_t>(taps.size());
  const ConvTap* tp = taps.data();
#pragma omp parallel for schedule(static)
  for (int64_t img = 0; img < n; ++img) {
    for (int64_t c = 0; c < nt; ++c) {
      const int64_t o = tp[c].o, ci = tp[c].ci, ky = tp[c].ky, kx = tp[c].kx;
      const float d = tp[c].d;
      const float* xp = x + (img * in + ci) * h * w;
      float* yp = y + (img * out + o) * ho * wo;
      // ox with 0 <= ox * stride - pad + kx < w, so the inner loop has no branch and vectorises.
      const int64_t lo = std::max<int64_t>(0, (pad - kx + stride - 1) / stride);
      const int64_t last = w - 1 + pad - kx;  // largest ox * stride
      const int64_t hi = last < 0 ? 0 : std::min<int64_t>(wo, last / stride + 1);
      for (int64_t oy = 0; oy < ho; ++oy) {
        const int64_t iy = oy * stride - pad + ky;
        if (iy < 0 || iy >= h) continue;
        const int64_t base = iy * w - pad + kx;
        float* yrow = yp + oy * wo;
        for (int64_t ox = lo; ox < hi; ++ox) yrow[ox] += d * xp[base + ox * stride];
      }
    }
  }
}

void add_linear_weight_changes(const float* x, float* y, int64_t n, int64_t in, int64_t out,
                               const std::vector<WeightChange>& changes) {
  // (output, input, delta) per change, split once rather than per image.
  const int64_t nc = static_cast<int64_t>(changes.size());
  if (nc == 0) return;
  std::vector<int32_t> row(changes.size()), col(changes.size());
  std::vector<float> delta(changes.size());
  for (size_t c = 0; c < changes.size(); ++c) {
    row[c] = static_cast<int32_t>(changes[c].index / in);
    col[c] = static_cast<int32_t>(changes[c].index % in);
    delta[c] = changes[c].delta;
  }
  // The inputs and outputs the changes touch, numbered in order of first use.
  std::vector<int32_t> col_slot(static_cast<size_t>(in), -1), row_slot(static_cast<size_t>(out), -1);
  std::vector<int32_t> cols, rows, cs(changes.size()), rs(changes.size());
  for (size_t c = 0; c < changes.size(); ++c) {
    int32_t& a = col_slot[static_cast<size_t>(col[c])];
    if (a < 0) a = static_cast<int32_t>(cols.size()), cols.push_back(col[c]);
    int32_t& b = row_slot[static_cast<size_t>(row[c])];
    if (b < 0) b = static_cast<int32_t>(rows.size()), rows.push_back(row[c]);
    cs[c] = a, rs[c] = b;
  }
  const int64_t ncols = static_cast<int64_t>(cols.size()), nrows = static_cast<int64_t>(rows.size());
  if (nc * 4 <= ncols + 2 * nrows) {  // few changes a value: image by image, change by change
    const int32_t* rp = row.data();
    const int32_t* cp = col.data();
    const float* dp = delta.data();
#pragma omp parallel for schedule(static)
    for (int64_t img = 0; img < n; ++img) {
      const float* xp = x + img * in;
      float* yp = y + img * out;
      for (int64_t c = 0; c < nc; ++c) yp[rp[c]] += dp[c] * xp[cp[c]];
    }
    return;
  }
  // Many: kBlock images at a time with the touched inputs and outputs transposed to rows of
  // images, so a change is one multiply-add along a row (vectorised) instead of one per image.
  // Each output element still gets its changes one by one in ascending weight order.
  constexpr int64_t kBlock = 64;
#pragma omp parallel
  {
    thread_local std::vector<float> xt_buffer, yt_buffer;
    xt_buffer.resize(static_cast<size_t>(ncols * kBlock));
    yt_buffer.resize(static_cast<size_t>(nrows * kBlock));
    float* xt = xt_buffer.data();
    float* yt = yt_buffer.data();
#pragma omp for schedule(static)
    for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
      const int64_t m = std::min(kBlock, n - i0);
      for (int64_t i = 0; i < m; ++i) {
        const float* xr = x + (i0 + i) * in;
        const float* yr = y + (i0 + i) * out;
        for (int64_t k = 0; k < ncols; ++k) xt[k * kBlock + i] = xr[cols[static_cast<size_t>(k)]];
        for (int64_t k = 0; k < nrows; ++k) yt[k * kBlock + i] = yr[rows[static_cast<size_t>(k)]];
      }
      for (int64_t c = 0; c < nc; ++c) {
        float* yrow = yt + rs[static_cast<size_t>(c)] * kBlock;
        const float* xrow = xt + cs[static_cast<size_t>(c)] * kBlock;
        const float d = delta[static_cast<size_t>(c)];
        for (int64_t i = 0; i < m; ++i) yrow[i] += d * xrow[i];
      }
      for (int64_t i = 0; i < m; ++i) {
        float* yr = y + (i0 + i) * out;
        for (int64_t k = 0; k < nrows; ++k) yr[rows[static_cast<size_t>(k)]] = yt[k * kBlock + i];
      }
    }
  }
}

void conv2d_changes_relu_pool(const float* x, const float* clean_out, int64_t clean_channels,
                              const std::vector<int64_t>& channels, float* next, int64_t n, int64_t in, int64_t h,
                              int64_t w, int64_t out, int64_t kh, int64_t kw, int64_t pad, int64_t ho, int64_t wo,
                              const ReluPoolChain& chain, const std::vector<WeightChange>& changes,
                              const float* minus) {
  const std::vector<ConvTap> taps = conv_taps(changes, in, out, kh, kw);
  if (taps.empty() || ho <= 0 || wo <= 0) return;
  const int64_t k = chain.pool_k > 0 ? chain.pool_k : 1, step = chain.pool_k > 0 ? chain.pool_stride : 1;
  const int64_t ph = chain.pool_k > 0 ? (ho - k) / step + 1 : ho, pw = chain.pool_k > 0 ? (wo - k) / step + 1 : wo;
  auto relu = [](float v) { return v < 0.0f ? 0.0f : v; };  // relu_forward: NaN passes
  for_changed_planes(
      x, n, in, h, w, pad, ho, wo, taps,
      [&](int64_t img, int64_t o) {
        const int64_t c = channels.empty() ? o : channels[static_cast<size_t>(o)];
        return clean_out + (img * clean_channels + c) * ho * wo;
      },
      [&](int64_t img, int64_t o, float* wide, int64_t wp) {
        float* dst = next + (img * out + o) * ph * pw;
        // minus: the plane's value less the clean chain output, as sub_inplace computes it.
        const float* m = nullptr;
        if (minus) m = minus + (img * clean_channels + (channels.empty() ? o : channels[static_cast<size_t>(o)])) * ph * pw;
        if (k == 2 && step == 2) {  // the kernels' own 2x2 pool (relu_max_pool2d's values by construction)
          cpu::max_pool_2x2_plane(wide, dst, wp, ph, pw, !chain.pool_first);
          if (chain.pool_first || m)
            for (int64_t j = 0; j < ph * pw; ++j) {
              const float v = chain.pool_first ? relu(dst[j]) : dst[j];
              dst[j] = m ? v - m[j] : v;
            }
          return;
        }
        if (!chain.pool_first)
          for (int64_t j = 0; j < ho * wp; ++j) wide[j] = relu(wide[j]);  // the unread columns too: harmless
        for (int64_t py = 0; py < ph; ++py)
          for (int64_t px = 0; px < pw; ++px) {
            float best = 0.0f;
            for (int64_t wy = 0; wy < k; ++wy)
              for (int64_t wx = 0; wx < k; ++wx) {
                const float v = wide[(py * step + wy) * wp + px * step + wx];
                if ((wy == 0 && wx == 0) || cpu::max_pool_takes(v, best)) best = v;
              }
            const float v = chain.pool_first ? relu(best) : best;
            dst[py * pw + px] = m ? v - m[py * pw + px] : v;
          }
      });
}

}  // namespace stuckat::sweep
