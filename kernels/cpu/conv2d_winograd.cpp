// Winograd convolution F(m x m, 3x3), m = 2 or 4 (see conv2d_winograd.h). With d an
// (m + 2) x (m + 2) input window, g a 3x3 kernel and y the m x m outputs it gives,
//   y = A^T [ (G g G^T) (.) (B^T d B) ] A        (.) element-wise, summed over input channels
// (the matrices are written out by kernel_rows, input_rows and output_rows below). Tile t covers
// outputs (m ty.., m tx..) and reads input rows m ty - pad .. m ty - pad + m + 1 (zero outside
// the image); a size that m does not divide leaves the last tile partly used. Per chunk of images:
//   1. the images go channels-last into zero-bordered planes (blocks of channels x pixels
//      transposed in registers),
//   2. input transform: V[pos][t][c] = (B^T d_t B)[pos], vectorised over channels,
//   3. (m + 2)^2 GEMMs: M[pos] (tiles, k) = V[pos] (tiles, c) * U[pos] (c, k), U = G g G^T per pair,
//   4. output transform: the m x m outputs A^T M_t A, channels-last, then back to (k, ho, wo)
//      planes with the bias and addend.
// The input gradient is the same convolution of dy (padded by 2 - pad) with the kernels flipped
// and c_in / c_out swapped. The weight gradient uses m = 2 only, as the adjoint: per position
//   S[pos] (k, c) = sum over the batch's tiles of Z[pos][t]^T V[pos][t],  Z_t = A dy_t A^T,
// accumulated chunk by chunk (one GEMM per position and chunk), then dW = G^T S G per pair.
// Every phase is an OpenMP loop over tiles, positions or channels of work fixed by the shape;
// each GEMM runs single-threaded in one thread, so no sum depends on the thread count.
#include "kernels/cpu/conv2d_winograd.h"

#include "kernels/cpu/simd.h"

#if defined(STUCKAT_SIMD) && defined(STUCKAT_WITH_BLAS)
#define STUCKAT_WINOGRAD 1
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/gemm.h"
#endif

namespace stuckat::cpu {

#ifdef STUCKAT_WINOGRAD
namespace {

using namespace simd;

// A chunk of images holds about this many bytes of planes and transformed tiles: enough to
// amortise reading the transformed weights once per chunk (twice their size), and at least 8 MB
// and at most 16 MB, so that its phases stream through the L3 cache rather than memory. Measured
// on a Zen 3 VM (32 MB L3), 64-256 images: a 64-channel 32x32 layer's 4x4-tile forward took
// 13-25% less time at 8 MB than at 16, the 512-channel layers (36 MB of weights) twice as much
// at 4 MB as at 16.
int64_t chunk_bytes(int64_t weight_bytes) {
  return std::clamp<int64_t>(2 * weight_bytes, int64_t{8} << 20, int64_t{16} << 20);
}

// The positions of a transformed chunk (and of the transformed weights) lie this many floats
// more than their size apart, so that the transforms' streams (one per position) do not fall in
// the same L1 sets when the size is a multiple of 4 KiB.
constexpr int64_t kSkew = 16;
int64_t position_stride(int64_t tiles, int64_t channels) { return tiles * channels + kSkew; }

// F(m x m, 3x3): m x m outputs from an (m + 2) x (m + 2) window, (m + 2)^2 positions.
constexpr int64_t window(int m) { return m + 2; }
constexpr int64_t positions(int m) { return window(m) * window(m); }

// A 3x3 stride-1 convolution of `in` (n, c, h, w), padded by pad, into (n, k, ho, wo), in tiles
// of m x m outputs.
struct Plan {
  int64_t n, c, h, w, k, pad;
  int m;
  int64_t ho, wo;  // output size
  int64_t th, tw;  // tiles down and across
  int64_t hp, wp;  // the channels-last bordered planes: m th + 2 rows of m tw + 2 pixels
  int64_t images;  // per chunk
  int64_t tiles() const { return th * tw; }
  int64_t positions() const { return window(m) * window(m); }
};

Plan make_plan(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t pad, int m) {
  Plan p{n, c, h, w, k, pad, m, h + 2 * pad - 2, w + 2 * pad - 2, 0, 0, 0, 0, 0};
  p.th = (p.ho + m - 1) / m, p.tw = (p.wo + m - 1) / m;
  p.hp = m * p.th + 2, p.wp = m * p.tw + 2;
  const int64_t per_image = static_cast<int64_t>(sizeof(float)) *
                            (p.positions() * p.tiles() * (c + k) + p.hp * p.wp * c + m * m * p.tiles() * k);
  const int64_t weights = static_cast<int64_t>(sizeof(float)) * p.positions() * c * k;
  p.images = std::clamp<int64_t>(chunk_bytes(weights) / per_image, 1, n);
  return p;
}

// The tile size with fewer products for an ho x wo output (ties to the smaller tile, whose
// rounding is closer to the direct sum): 4x4 tiles need 36 products per channel pair for 16
// outputs, 2x2 tiles 16 for 4, so the 4x4 tiles win unless their half-used edges waste more.
int best_tile(int64_t ho, int64_t wo) {
  const int64_t four = positions(4) * ((ho + 3) / 4) * ((wo + 3) / 4);
  const int64_t two = positions(2) * ((ho + 1) / 2) * ((wo + 1) / 2);
  return four < two ? 4 : 2;
}

// The shapes this file takes. Planes of 2x2 outputs or less gain nothing: one tile of 16
// products per channel pair against the 16 that the direct kernels compute once they skip the
// taps reading padding.
bool covers(const Conv2dShape& s) {
  return s.kh == 3 && s.kw == 3 && s.stride == 1 && s.pad <= 2 && s.c_in % kLanes == 0 && s.c_out % kLanes == 0 &&
         s.h_out() >= 3 && s.w_out() >= 3;
}

// The one-dimensional transforms, applied down and then across a tile, vectorised over
// channels. F(2, 3):
//   G = | 1    0    0  |   B^T = | 1  0 -1  0 |   A^T = | 1  1  1  0 |
//       | 1/2  1/2  1/2|         | 0  1  1  0 |         | 0  1 -1 -1 |
//       | 1/2 -1/2  1/2|         | 0 -1  1  0 |
//       | 0    0    1  |         | 0  1  0 -1 |
// F(4, 3), points 0, 1, -1, 2, -2 and infinity:
//   G = |  1/4    0     0  |   B^T = | 4  0 -5  0  1  0 |   A^T = | 1  1  1  1  1  0 |
//       | -1/6  -1/6  -1/6 |         | 0 -4 -4  1  1  0 |         | 0  1 -1  2 -2  0 |
//       | -1/6   1/6  -1/6 |         | 0  4 -4 -1  1  0 |         | 0  1  1  4  4  0 |
//       |  1/24  1/12  1/6 |         | 0 -2 -1  2  1  0 |         | 0  1 -1  8 -8  1 |
//       |  1/24 -1/12  1/6 |         | 0  2 -1 -2  1  0 |
//       |  0     0     1   |         | 0  4  0 -5  0  1 |
template <int M>
inline void kernel_rows(const vfloat* g, vfloat* out) {  // out = G g
  if constexpr (M == 2) {
    const vfloat half = vset1(0.5f);
    out[0] = g[0];
    out[1] = vmul(half, vadd(vadd(g[0], g[1]), g[2]));
    out[2] = vmul(half, vadd(vsub(g[0], g[1]), g[2]));
    out[3] = g[2];
  } else {
    const vfloat outer = vadd(g[0], g[2]), outer24 = vfmadd(vset1(1.0f / 24), g[0], vmul(vset1(1.0f / 6), g[2]));
    out[0] = vmul(vset1(0.25f), g[0]);
    out[1] = vmul(vset1(-1.0f / 6), vadd(outer, g[1]));
    out[2] = vmul(vset1(-1.0f / 6), vsub(outer, g[1]));
    out[3] = vfmadd(vset1(1.0f / 12), g[1], outer24);
    out[4] = vfmadd(vset1(-1.0f / 12), g[1], outer24);
    out[5] = g[2];
  }
}

template <int M>
inline void input_rows(const vfloat* d, vfloat* out) {  // out = B^T d
  if constexpr (M == 2) {
    out[0] = vsub(d[0], d[2]), out[1] = vadd(d[1], d[2]), out[2] = vsub(d[2], d[1]), out[3] = vsub(d[1], d[3]);
  } else {
    const vfloat four = vset1(4.0f), two = vset1(2.0f), minus_five = vset1(-5.0f);
    const vfloat d34 = vadd(d[3], d[4]), d12 = vadd(d[1], d[2]), d43 = vsub(d[4], d[3]), d12m = vsub(d[1], d[2]);
    const vfloat d42 = vsub(d[4], d[2]), d31 = vsub(d[3], d[1]);
    out[0] = vfmadd(four, d[0], vfmadd(minus_five, d[2], d[4]));
    out[1] = vfmadd(vset1(-4.0f), d12, d34);
    out[2] = vfmadd(four, d12m, d43);
    out[3] = vfmadd(two, d31, d42);
    out[4] = vfmadd(vset1(-2.0f), d31, d42);
    out[5] = vfmadd(four, d[1], vfmadd(minus_five, d[3], d[5]));
  }
}

template <int M>
inline void output_rows(const vfloat* m, vfloat* out) {  // out = A^T m
  if constexpr (M == 2) {
    out[0] = vadd(vadd(m[0], m[1]), m[2]), out[1] = vsub(vsub(m[1], m[2]), m[3]);
  } else {
    const vfloat p12 = vadd(m[1], m[2]), m12 = vsub(m[1], m[2]), p34 = vadd(m[3], m[4]), m34 = vsub(m[3], m[4]);
    out[0] = vadd(vadd(m[0], p12), p34);
    out[1] = vfmadd(vset1(2.0f), m34, m12);
    out[2] = vfmadd(vset1(4.0f), p34, p12);
    out[3] = vadd(vfmadd(vset1(8.0f), m34, m12), m[5]);
  }
}

// u (positions, rows, cols): u[pos][r][col] = (G g G^T)[pos], g the 3x3 kernel of (c_out, c_in)
// pair (col, r) for the forward, and for the input gradient (r, col) flipped in space. Vectorised
// over kLanes columns (cols is a multiple of kLanes), so each position's row is written a vector
// at a time: position planes a multiple of 4 KiB apart would otherwise share the same few L1 sets.
template <int M>
void transform_weights(const float* w, int64_t c_in, int64_t c_out, bool for_dx, float* u) {
  constexpr int kW = window(M);
  const int64_t rows = for_dx ? c_out : c_in, cols = for_dx ? c_in : c_out, apart = position_stride(rows, cols);
  const LaneIndex across = lane_strides(static_cast<int32_t>(for_dx ? 9 : c_in * 9));
#pragma omp for schedule(static)
  for (int64_t job = 0; job < rows * cols / kLanes; ++job) {
    const int64_t r = job % rows, col = job / rows * kLanes;  // down a block of columns: w read in order
    const float* src = w + (for_dx ? r * c_in + col : col * c_in + r) * 9;
    vfloat g[3][3], gg[kW][3], column[3], out[kW];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) g[i][j] = vgather(src + (for_dx ? (2 - i) * 3 + 2 - j : i * 3 + j), across);
    for (int j = 0; j < 3; ++j) {  // G g, a column at a time
      vfloat rows_g[kW];
      for (int i = 0; i < 3; ++i) column[i] = g[i][j];
      kernel_rows<M>(column, rows_g);
      for (int a = 0; a < kW; ++a) gg[a][j] = rows_g[a];
    }
    float* dst = u + r * cols + col;
    for (int a = 0; a < kW; ++a) {  // (G g) G^T, a row at a time
      kernel_rows<M>(gg[a], out);
      for (int b = 0; b < kW; ++b) vstore(dst + (a * kW + b) * apart, out[b]);
    }
  }
}

// Images [n0, n0 + count) of `in` (n, c, h, w) into xp (count, hp, wp, c): channels last, each
// image at row and column `pad`, zero around it. Blocks of kLanes channels x kLanes pixels (the
// plane taken as one run of pixels) are transposed in registers.
void pack_bordered(const float* in, int64_t n0, int64_t count, int64_t c, int64_t h, int64_t w, int64_t pad,
                   int64_t hp, int64_t wp, float* xp) {
  const int64_t plane = h * w, blocks = (plane + kLanes - 1) / kLanes, groups = c / kLanes;
#pragma omp for schedule(static) nowait
  for (int64_t row = 0; row < count * hp; ++row) {  // the border
    const int64_t r = row % hp - pad;
    float* dst = xp + row * wp * c;
    if (r < 0 || r >= h) {
      std::fill(dst, dst + wp * c, 0.0f);
      continue;
    }
    std::fill(dst, dst + pad * c, 0.0f);
    std::fill(dst + (pad + w) * c, dst + wp * c, 0.0f);
  }
#pragma omp for schedule(static)
  for (int64_t job = 0; job < count * groups * blocks; ++job) {
    const int64_t i = job / (groups * blocks), g = job / blocks % groups, q0 = job % blocks * kLanes;
    const int64_t lanes = std::min(kLanes, plane - q0);
    const float* src = in + ((n0 + i) * c + g * kLanes) * plane + q0;
    vfloat v[kLanes];
    for (int64_t ch = 0; ch < kLanes; ++ch)
      v[ch] = lanes == kLanes ? vload(src + ch * plane) : vload_first(first_lanes(lanes), src + ch * plane);
    transpose_lanes(v);
    for (int64_t j = 0; j < lanes; ++j) {
      const int64_t r = (q0 + j) / w, q = (q0 + j) % w;
      vstore(xp + ((i * hp + r + pad) * wp + q + pad) * c + g * kLanes, v[j]);
    }
  }
}

// v (positions, tiles, c) = B^T d B for each tile of the chunk (image, tile row, tile), from xp.
template <int M>
void transform_input(const float* xp, int64_t count, const Plan& p, float* v) {
  constexpr int kW = window(M);
  const int64_t tiles = count * p.tiles(), row = p.wp * p.c, pos_stride = position_stride(tiles, p.c);
#pragma omp for schedule(static)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t i = t / p.tiles(), ty = t % p.tiles() / p.tw, tx = t % p.tw;
    const float* d = xp + ((i * p.hp + M * ty) * p.wp + M * tx) * p.c;
    float* out = v + t * p.c;
    for (int64_t cb = 0; cb < p.c; cb += kLanes) {
      vfloat e[kW][kW], column[kW], rows_e[kW];  // e = B^T d
#pragma GCC unroll 6
      for (int b = 0; b < kW; ++b) {
        const float* at = d + b * p.c + cb;
        for (int a = 0; a < kW; ++a) column[a] = vload(at + a * row);
        input_rows<M>(column, rows_e);
        for (int a = 0; a < kW; ++a) e[a][b] = rows_e[a];
      }
#pragma GCC unroll 6
      for (int a = 0; a < kW; ++a) {
        input_rows<M>(e[a], rows_e);
        float* o = out + a * kW * pos_stride + cb;
        for (int b = 0; b < kW; ++b) vstore(o + b * pos_stride, rows_e[b]);
      }
    }
  }
}

// yt (count, ho, wo, k) = A^T M A for each tile, the partly used tiles at the edges cropped.
template <int M>
void transform_output(const float* m, int64_t count, const Plan& p, float* yt) {
  constexpr int kW = window(M);
  const int64_t tiles = count * p.tiles(), pos_stride = position_stride(tiles, p.k);
#pragma omp for schedule(static)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t i = t / p.tiles(), ty = t % p.tiles() / p.tw, tx = t % p.tw;
    const int64_t rows = std::min<int64_t>(M, p.ho - M * ty), cols = std::min<int64_t>(M, p.wo - M * tx);
    const float* src = m + t * p.k;
    float* out = yt + ((i * p.ho + M * ty) * p.wo + M * tx) * p.k;
    for (int64_t kb = 0; kb < p.k; kb += kLanes) {
      vfloat s[M][kW], column[kW], y[M];  // s = A^T M
#pragma GCC unroll 6
      for (int b = 0; b < kW; ++b) {
        const float* at = src + b * pos_stride + kb;
        for (int a = 0; a < kW; ++a) column[a] = vload(at + a * kW * pos_stride);
        output_rows<M>(column, y);
        for (int r = 0; r < M; ++r) s[r][b] = y[r];
      }
      for (int64_t r = 0; r < rows; ++r) {
        output_rows<M>(s[r], y);
        for (int64_t q = 0; q < cols; ++q) vstore(out + (r * p.wo + q) * p.k + kb, y[q]);
      }
    }
  }
}

// yt (count, ho, wo, k) back to images [n0, n0 + count) of y (n, k, ho, wo): + b, then addend + it.
void unpack_output(const float* yt, int64_t n0, int64_t count, const Plan& p, const float* b, const float* addend,
                   float* y) {
  const int64_t plane = p.ho * p.wo, blocks = (plane + kLanes - 1) / kLanes, groups = p.k / kLanes;
#pragma omp for schedule(static)
  for (int64_t job = 0; job < count * groups * blocks; ++job) {
    const int64_t i = job / (groups * blocks), g = job / blocks % groups, q0 = job % blocks * kLanes;
    const int64_t lanes = std::min(kLanes, plane - q0);
    const float* src = yt + (i * plane + q0) * p.k + g * kLanes;
    vfloat v[kLanes];
    for (int64_t j = 0; j < kLanes; ++j) v[j] = j < lanes ? vload(src + j * p.k) : vzero();
    transpose_lanes(v);
    for (int64_t ch = 0; ch < kLanes; ++ch) {
      const int64_t co = g * kLanes + ch, at = ((n0 + i) * p.k + co) * plane + q0;
      vfloat out = v[ch];
      if (b) out = vadd(out, vset1(b[co]));
      if (addend) out = vadd(vload_first(first_lanes(lanes), addend + at), out);
      vstore_count(y + at, lanes, out);
    }
  }
}

// out = conv(in, u) (+ b, addend), u from transform_weights<M>.
template <int M>
void winograd_conv(const float* in, const float* u, const float* b, const float* addend, float* out, const Plan& p) {
  thread_local std::vector<float> xp_buffer, v_buffer, m_buffer, yt_buffer;  // the caller's, shared by the team
  constexpr int64_t kPositions = positions(M);
  const int64_t chunk_tiles = p.images * p.tiles();
  float* xp = grow_workspace(xp_buffer, p.images * p.hp * p.wp * p.c);
  float* v = grow_workspace(v_buffer, kPositions * position_stride(chunk_tiles, p.c));
  float* m = grow_workspace(m_buffer, kPositions * position_stride(chunk_tiles, p.k));
  float* yt = grow_workspace(yt_buffer, p.images * p.ho * p.wo * p.k);
#pragma omp parallel
  for (int64_t n0 = 0; n0 < p.n; n0 += p.images) {
    const int64_t count = std::min(p.images, p.n - n0), tiles = count * p.tiles();
    pack_bordered(in, n0, count, p.c, p.h, p.w, p.pad, p.hp, p.wp, xp);
    transform_input<M>(xp, count, p, v);
#pragma omp for schedule(static)
    for (int64_t pos = 0; pos < kPositions; ++pos)
      sgemm_rowmajor(false, false, tiles, p.k, p.c, 1.0f, v + pos * position_stride(tiles, p.c), p.c,
                     u + pos * position_stride(p.c, p.k), p.k, 0.0f, m + pos * position_stride(tiles, p.k), p.k);
    transform_output<M>(m, count, p, yt);
    unpack_output(yt, n0, count, p, b, addend, out);
  }
}

float* weight_workspace(int64_t count) {
  thread_local std::vector<float> buffer;
  return grow_workspace(buffer, count);
}

// z (16, tiles, k) = A dy_t A^T for each tile of the chunk, from dyt (count, 2 th, 2 tw, k): dy's
// images channels last, a zero row / column past an odd size.
void transform_gradient(const float* dyt, int64_t count, const Plan& p, float* z) {
  const int64_t tiles = count * p.tiles(), pos_stride = position_stride(tiles, p.k), row = 2 * p.tw * p.k;
#pragma omp for schedule(static)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t i = t / p.tiles(), ty = t % p.tiles() / p.tw, tx = t % p.tw;
    const float* src = dyt + ((i * 2 * p.th + 2 * ty) * 2 * p.tw + 2 * tx) * p.k;
    float* out = z + t * p.k;
    for (int64_t kb = 0; kb < p.k; kb += kLanes) {
      const vfloat d[2][2] = {{vload(src + kb), vload(src + p.k + kb)},
                              {vload(src + row + kb), vload(src + row + p.k + kb)}};
      vfloat e[4][2];  // A dy
      for (int b = 0; b < 2; ++b)
        e[0][b] = d[0][b], e[1][b] = vadd(d[0][b], d[1][b]), e[2][b] = vsub(d[0][b], d[1][b]),
        e[3][b] = vsub(vzero(), d[1][b]);
#pragma GCC unroll 4
      for (int a = 0; a < 4; ++a) {
        float* o = out + a * 4 * pos_stride + kb;
        vstore(o, e[a][0]);
        vstore(o + pos_stride, vadd(e[a][0], e[a][1]));
        vstore(o + 2 * pos_stride, vsub(e[a][0], e[a][1]));
        vstore(o + 3 * pos_stride, vsub(vzero(), e[a][1]));
      }
    }
  }
}

}  // namespace

namespace {

// The forward (for_dx false: x by the kernels) or the input gradient (dy by the kernels flipped,
// channels swapped, padded by 2 - pad) of shape s, in tiles of m x m outputs (0: the better size).
void convolve(const float* in, const float* w, const float* b, const float* addend, float* out, const Conv2dShape& s,
              bool for_dx, int m) {
  ensure_single_threaded_blas();
  auto plan = [&](int tile) {
    return for_dx ? make_plan(s.n, s.c_out, s.h_out(), s.w_out(), s.c_in, 2 - s.pad, tile)
                  : make_plan(s.n, s.c_in, s.h, s.w, s.c_out, s.pad, tile);
  };
  if (m == 0) m = best_tile(for_dx ? s.h : s.h_out(), for_dx ? s.w : s.w_out());
  float* u = weight_workspace(positions(m) * position_stride(s.c_in, s.c_out));
  if (m == 4) {
#pragma omp parallel
    transform_weights<4>(w, s.c_in, s.c_out, for_dx, u);
    winograd_conv<4>(in, u, b, addend, out, plan(4));
  } else {
#pragma omp parallel
    transform_weights<2>(w, s.c_in, s.c_out, for_dx, u);
    winograd_conv<2>(in, u, b, addend, out, plan(2));
  }
}

}  // namespace

bool conv2d_forward_winograd(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s,
                             const float* addend, int tile) {
  if (!covers(s)) return false;
  convolve(x, w, b, addend, y, s, false, tile);
  return true;
}

bool conv2d_backward_dx_winograd(const float* w, const float* dy, float* dx, const Conv2dShape& s, int tile) {
  if (!covers(s)) return false;
  convolve(dy, w, nullptr, nullptr, dx, s, true, tile);
  return true;
}

bool conv2d_backward_weights_winograd(const float* x, const float* dy, float* dw, float* db, const Conv2dShape& s) {
  if (!covers(s)) return false;
  ensure_single_threaded_blas();
  constexpr int64_t kPositions = positions(2);
  const Plan p = make_plan(s.n, s.c_in, s.h, s.w, s.c_out, s.pad, 2);
  const int64_t chunk_tiles = p.images * p.tiles(), pairs = p.k * p.c, apart = position_stride(p.k, p.c);
  thread_local std::vector<float> xp_buffer, v_buffer, z_buffer, dyt_buffer;
  float* xp = grow_workspace(xp_buffer, p.images * p.hp * p.wp * p.c);
  float* dyt = grow_workspace(dyt_buffer, p.images * 4 * p.tiles() * p.k);
  float* v = grow_workspace(v_buffer, kPositions * position_stride(chunk_tiles, p.c));
  float* z = grow_workspace(z_buffer, kPositions * position_stride(chunk_tiles, p.k));
  float* sums = weight_workspace(kPositions * apart);  // S (16, k, c)
#pragma omp parallel
  {
    for (int64_t n0 = 0; n0 < p.n; n0 += p.images) {
      const int64_t count = std::min(p.images, p.n - n0), tiles = count * p.tiles();
      pack_bordered(x, n0, count, p.c, p.h, p.w, p.pad, p.hp, p.wp, xp);
      transform_input<2>(xp, count, p, v);
      pack_bordered(dy, n0, count, p.k, p.ho, p.wo, 0, 2 * p.th, 2 * p.tw, dyt);
      transform_gradient(dyt, count, p, z);
#pragma omp for schedule(static)
      for (int64_t pos = 0; pos < kPositions; ++pos)
        sgemm_rowmajor(true, false, p.k, p.c, tiles, 1.0f, z + pos * position_stride(tiles, p.k), p.k,
                       v + pos * position_stride(tiles, p.c), p.c, n0 == 0 ? 0.0f : 1.0f, sums + pos * apart, p.c);
    }
    // dW = G^T S G per pair (row a of G^T S: S0 + (S1 + S2)/2, (S1 - S2)/2, (S1 + S2)/2 + S3).
#pragma omp for schedule(static)
    for (int64_t pair = 0; pair < pairs; ++pair) {
      float r[3][4];
      for (int b = 0; b < 4; ++b) {
        const float s0 = sums[b * apart + pair], s1 = sums[(4 + b) * apart + pair], s2 = sums[(8 + b) * apart + pair],
                    s3 = sums[(12 + b) * apart + pair];
        r[0][b] = s0 + 0.5f * (s1 + s2), r[1][b] = 0.5f * (s1 - s2), r[2][b] = 0.5f * (s1 + s2) + s3;
      }
      float* out = dw + pair * 9;
      for (int i = 0; i < 3; ++i) {
        out[i * 3 + 0] = r[i][0] + 0.5f * (r[i][1] + r[i][2]);
        out[i * 3 + 1] = 0.5f * (r[i][1] - r[i][2]);
        out[i * 3 + 2] = 0.5f * (r[i][1] + r[i][2]) + r[i][3];
      }
    }
    if (db) {
#pragma omp for schedule(static)
      for (int64_t co = 0; co < p.k; ++co) {
        float sum = 0.0f;
        for (int64_t n = 0; n < p.n; ++n) {
          const float* row = dy + (n * p.k + co) * p.ho * p.wo;
          for (int64_t q = 0; q < p.ho * p.wo; ++q) sum += row[q];
        }
        db[co] = sum;
      }
    }
  }
  return true;
}

#else  // neither vectors nor BLAS: the direct kernels or im2col do every shape

bool conv2d_forward_winograd(const float*, const float*, const float*, float*, const Conv2dShape&, const float*, int) {
  return false;
}
bool conv2d_backward_dx_winograd(const float*, const float*, float*, const Conv2dShape&, int) { return false; }
bool conv2d_backward_weights_winograd(const float*, const float*, float*, float*, const Conv2dShape&) { return false; }

#endif

}  // namespace stuckat::cpu
