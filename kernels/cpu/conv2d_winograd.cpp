// Winograd F(2x2, 3x3) convolution (see conv2d_winograd.h). With d a 4x4 input window, g a 3x3
// kernel and y the 2x2 outputs it gives,
//   y = A^T [ (G g G^T) (.) (B^T d B) ] A        (.) element-wise, summed over input channels
//   B^T = | 1  0 -1  0 |    G = | 1    0    0  |    A^T = | 1  1  1  0 |
//         | 0  1  1  0 |        | 1/2  1/2  1/2|          | 0  1 -1 -1 |
//         | 0 -1  1  0 |        | 1/2 -1/2  1/2|
//         | 0  1  0 -1 |        | 0    0    1  |
// Tile t covers outputs (2ty.., 2tx..) and reads input rows 2ty - pad .. 2ty - pad + 3 (zero
// outside the image); an odd output size leaves the last tile half used. Per chunk of images:
//   1. the images go channels-last into zero-bordered planes (blocks of channels x pixels
//      transposed in registers),
//   2. input transform: V[pos][t][c] = (B^T d_t B)[pos], vectorised over channels,
//   3. 16 GEMMs: M[pos] (tiles, k) = V[pos] (tiles, c) * U[pos] (c, k), U = G g G^T per pair,
//   4. output transform: the 2x2 outputs A^T M_t A, channels-last, then back to (k, ho, wo) planes
//      with the bias and addend.
// The input gradient is the same convolution of dy (padded by 2 - pad) with the kernels flipped
// and c_in / c_out swapped. The weight gradient is the adjoint: per position
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

constexpr int64_t kPositions = 16;  // a transformed tile is 4x4
// A chunk of images holds at most about this many bytes of transformed tiles and planes, so its
// phases stream through the L3 cache rather than memory.
constexpr int64_t kChunkBytes = int64_t{16} << 20;

// The 16 positions of a transformed chunk (and of the transformed weights) lie this many floats
// more than their size apart, so that the transforms' 16 streams (one per position) do not fall
// in the same L1 sets when the size is a multiple of 4 KiB.
constexpr int64_t kSkew = 16;
int64_t position_stride(int64_t tiles, int64_t channels) { return tiles * channels + kSkew; }

// A 3x3 stride-1 convolution of `in` (n, c, h, w), padded by pad, into (n, k, ho, wo).
struct Plan {
  int64_t n, c, h, w, k, pad;
  int64_t ho, wo;  // output size
  int64_t th, tw;  // tiles down and across
  int64_t hp, wp;  // the channels-last bordered planes: 2 th + 2 rows of 2 tw + 2 pixels
  int64_t images;  // per chunk
  int64_t tiles() const { return th * tw; }
};

Plan make_plan(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t pad) {
  Plan p{n, c, h, w, k, pad, h + 2 * pad - 2, w + 2 * pad - 2, 0, 0, 0, 0, 0};
  p.th = (p.ho + 1) / 2, p.tw = (p.wo + 1) / 2;
  p.hp = 2 * p.th + 2, p.wp = 2 * p.tw + 2;
  const int64_t per_image = static_cast<int64_t>(sizeof(float)) *
                            (kPositions * p.tiles() * (c + k) + p.hp * p.wp * c + 4 * p.tiles() * k);
  p.images = std::clamp<int64_t>(kChunkBytes / per_image, 1, n);
  return p;
}

// The shapes this file takes. Planes of 2x2 outputs or less gain nothing: one tile of 16
// products per channel pair against the 16 that the direct kernels compute once they skip the
// taps reading padding.
bool covers(const Conv2dShape& s) {
  return s.kh == 3 && s.kw == 3 && s.stride == 1 && s.pad <= 2 && s.c_in % kLanes == 0 && s.c_out % kLanes == 0 &&
         s.h_out() >= 3 && s.w_out() >= 3;
}

// u (16, rows, cols): u[pos][r][col] = (G g G^T)[pos], g the 3x3 kernel of (c_out, c_in) pair
// (col, r) for the forward, and for the input gradient (r, col) flipped in space. Vectorised over
// kLanes columns (cols is a multiple of kLanes), so each position's row is written a vector at a
// time: position planes a multiple of 4 KiB apart would otherwise share the same few L1 sets.
void transform_weights(const float* w, int64_t c_in, int64_t c_out, bool for_dx, float* u) {
  const int64_t rows = for_dx ? c_out : c_in, cols = for_dx ? c_in : c_out, apart = position_stride(rows, cols);
  const LaneIndex across = lane_strides(static_cast<int32_t>(for_dx ? 9 : c_in * 9));
#pragma omp for schedule(static)
  for (int64_t job = 0; job < rows * cols / kLanes; ++job) {
    const int64_t r = job % rows, col = job / rows * kLanes;  // down a block of columns: w read in order
    const float* src = w + (for_dx ? r * c_in + col : col * c_in + r) * 9;
    vfloat g[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) g[i][j] = vgather(src + (for_dx ? (2 - i) * 3 + 2 - j : i * 3 + j), across);
    const vfloat half = vset1(0.5f);
    vfloat gg[4][3];  // G g
    for (int j = 0; j < 3; ++j) {
      gg[0][j] = g[0][j];
      gg[1][j] = vmul(half, vadd(vadd(g[0][j], g[1][j]), g[2][j]));
      gg[2][j] = vmul(half, vadd(vsub(g[0][j], g[1][j]), g[2][j]));
      gg[3][j] = g[2][j];
    }
    float* out = u + r * cols + col;
    for (int a = 0; a < 4; ++a) {
      vstore(out + (a * 4 + 0) * apart, gg[a][0]);
      vstore(out + (a * 4 + 1) * apart, vmul(half, vadd(vadd(gg[a][0], gg[a][1]), gg[a][2])));
      vstore(out + (a * 4 + 2) * apart, vmul(half, vadd(vsub(gg[a][0], gg[a][1]), gg[a][2])));
      vstore(out + (a * 4 + 3) * apart, gg[a][2]);
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

// v (16, tiles, c) = B^T d B for each tile of the chunk (image, tile row, tile), from xp.
void transform_input(const float* xp, int64_t count, const Plan& p, float* v) {
  const int64_t tiles = count * p.tiles(), row = p.wp * p.c, pos_stride = position_stride(tiles, p.c);
#pragma omp for schedule(static)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t i = t / p.tiles(), ty = t % p.tiles() / p.tw, tx = t % p.tw;
    const float* d = xp + ((i * p.hp + 2 * ty) * p.wp + 2 * tx) * p.c;
    float* out = v + t * p.c;
    for (int64_t cb = 0; cb < p.c; cb += kLanes) {
      vfloat e[4][4];  // B^T d
#pragma GCC unroll 4
      for (int b = 0; b < 4; ++b) {
        const float* at = d + b * p.c + cb;
        const vfloat d0 = vload(at), d1 = vload(at + row), d2 = vload(at + 2 * row), d3 = vload(at + 3 * row);
        e[0][b] = vsub(d0, d2), e[1][b] = vadd(d1, d2), e[2][b] = vsub(d2, d1), e[3][b] = vsub(d1, d3);
      }
#pragma GCC unroll 4
      for (int a = 0; a < 4; ++a) {
        float* o = out + a * 4 * pos_stride + cb;
        vstore(o, vsub(e[a][0], e[a][2]));
        vstore(o + pos_stride, vadd(e[a][1], e[a][2]));
        vstore(o + 2 * pos_stride, vsub(e[a][2], e[a][1]));
        vstore(o + 3 * pos_stride, vsub(e[a][1], e[a][3]));
      }
    }
  }
}

// yt (count, ho, wo, k) = A^T M A for each tile, the half-used tiles of odd sizes cropped.
void transform_output(const float* m, int64_t count, const Plan& p, float* yt) {
  const int64_t tiles = count * p.tiles(), pos_stride = position_stride(tiles, p.k);
#pragma omp for schedule(static)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t i = t / p.tiles(), ty = t % p.tiles() / p.tw, tx = t % p.tw;
    const int64_t rows = std::min<int64_t>(2, p.ho - 2 * ty), cols = std::min<int64_t>(2, p.wo - 2 * tx);
    const float* src = m + t * p.k;
    float* out = yt + ((i * p.ho + 2 * ty) * p.wo + 2 * tx) * p.k;
    for (int64_t kb = 0; kb < p.k; kb += kLanes) {
      vfloat s[2][4];  // A^T M
#pragma GCC unroll 4
      for (int b = 0; b < 4; ++b) {
        const float* at = src + b * pos_stride + kb;
        const vfloat m0 = vload(at), m1 = vload(at + 4 * pos_stride), m2 = vload(at + 8 * pos_stride),
                     m3 = vload(at + 12 * pos_stride);
        s[0][b] = vadd(vadd(m0, m1), m2), s[1][b] = vsub(vsub(m1, m2), m3);
      }
      for (int64_t r = 0; r < rows; ++r) {
        vstore(out + r * p.wo * p.k + kb, vadd(vadd(s[r][0], s[r][1]), s[r][2]));
        if (cols == 2) vstore(out + (r * p.wo + 1) * p.k + kb, vsub(vsub(s[r][1], s[r][2]), s[r][3]));
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

// out = conv(in, u) (+ b, addend), u from transform_weights.
void winograd_conv(const float* in, const float* u, const float* b, const float* addend, float* out, const Plan& p) {
  thread_local std::vector<float> xp_buffer, v_buffer, m_buffer, yt_buffer;  // the caller's, shared by the team
  const int64_t chunk_tiles = p.images * p.tiles();
  float* xp = grow_workspace(xp_buffer, p.images * p.hp * p.wp * p.c);
  float* v = grow_workspace(v_buffer, kPositions * position_stride(chunk_tiles, p.c));
  float* m = grow_workspace(m_buffer, kPositions * position_stride(chunk_tiles, p.k));
  float* yt = grow_workspace(yt_buffer, p.images * p.ho * p.wo * p.k);
#pragma omp parallel
  for (int64_t n0 = 0; n0 < p.n; n0 += p.images) {
    const int64_t count = std::min(p.images, p.n - n0), tiles = count * p.tiles();
    pack_bordered(in, n0, count, p.c, p.h, p.w, p.pad, p.hp, p.wp, xp);
    transform_input(xp, count, p, v);
#pragma omp for schedule(static)
    for (int64_t pos = 0; pos < kPositions; ++pos)
      sgemm_rowmajor(false, false, tiles, p.k, p.c, 1.0f, v + pos * position_stride(tiles, p.c), p.c,
                     u + pos * position_stride(p.c, p.k), p.k, 0.0f, m + pos * position_stride(tiles, p.k), p.k);
    transform_output(m, count, p, yt);
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

bool conv2d_forward_winograd(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s,
                             const float* addend) {
  if (!covers(s)) return false;
  ensure_single_threaded_blas();
  float* u = weight_workspace(kPositions * position_stride(s.c_in, s.c_out));
#pragma omp parallel
  transform_weights(w, s.c_in, s.c_out, false, u);
  winograd_conv(x, u, b, addend, y, make_plan(s.n, s.c_in, s.h, s.w, s.c_out, s.pad));
  return true;
}

bool conv2d_backward_dx_winograd(const float* w, const float* dy, float* dx, const Conv2dShape& s) {
  if (!covers(s)) return false;
  ensure_single_threaded_blas();
  float* u = weight_workspace(kPositions * position_stride(s.c_in, s.c_out));
#pragma omp parallel
  transform_weights(w, s.c_in, s.c_out, true, u);
  winograd_conv(dy, u, nullptr, nullptr, dx, make_plan(s.n, s.c_out, s.h_out(), s.w_out(), s.c_in, 2 - s.pad));
  return true;
}

bool conv2d_backward_weights_winograd(const float* x, const float* dy, float* dw, float* db, const Conv2dShape& s) {
  if (!covers(s)) return false;
  ensure_single_threaded_blas();
  const Plan p = make_plan(s.n, s.c_in, s.h, s.w, s.c_out, s.pad);
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
      transform_input(xp, count, p, v);
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

bool conv2d_forward_winograd(const float*, const float*, const float*, float*, const Conv2dShape&, const float*) {
  return false;
}
bool conv2d_backward_dx_winograd(const float*, const float*, float*, const Conv2dShape&) { return false; }
bool conv2d_backward_weights_winograd(const float*, const float*, float*, float*, const Conv2dShape&) { return false; }

#endif

}  // namespace stuckat::cpu
