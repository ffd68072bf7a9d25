// Weight gradient without a column matrix (see conv2d_direct.h): deep layers, and with AVX2 the
// layers whose output channels fill the lanes better than their output width (LeNet conv2).
//   dw[co][t] = sum over every image n and output pixel q of dy[n][co][q] * xp[n][base(q) + offset(t)]
// with xp the zero-padded input and t = (ci, ky, kx). It is a GEMM whose inner dimension is the
// batch's pixels: dy is transposed once to pixel-major rows of channels (dyT[q][co], padded to a
// whole vector), and a register tile of G vectors of kLanes channels x J taps (simd.h; 4 x 6 in
// 32 vector registers, 2 x 6 in 16) accumulates over the pixels:
// per pixel, G loads of dyT and J broadcast inputs feed G*J FMAs. Nothing is written per image.
// Threads own whole tap blocks (all channels, all pixels), so there are no partial sums to reduce:
// every element is summed pixel by pixel in batch order, whichever the thread count. Pixels go in
// chunks whose dyT rows stay in L2 while every tap block of the thread passes over them.
#include "kernels/cpu/conv2d_direct.h"

#include "kernels/cpu/simd.h"

#ifdef STUCKAT_SIMD
#include <omp.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "kernels/cpu/gemm.h"
#endif

namespace stuckat::cpu {

#ifdef STUCKAT_SIMD
namespace {

using namespace simd;

// G: channel vectors of a tile; J: taps of a tile. G * J accumulators + G dy vectors + 1 input:
// 24 + 4 + 1 of 32 registers, 12 + 2 + 1 of 16.
constexpr int kTileVectors = kVectorRegisters >= 32 ? 4 : 2;
constexpr int kTileTaps = 6;
constexpr int64_t kChunkBytes = 512 << 10;  // dyT rows of a chunk of pixels

// Where a tile's sums go: between chunks out[j][g*kLanes + lane] (row stride `stride`); after the last
// chunk straight into dw[channel][tap] (row stride `taps`), channels past `channels` dropped.
struct TileOutput {
  float* out;
  int64_t stride;
  float* dw;  // nullptr before the last chunk
  int64_t taps, channels;
};

// The tile's sums over the chunk's pixels, starting from 0 (`first`) or from `out`.
template <int G, int J>
void weight_tile(const float* xp, const int64_t* base, const float* dyt, int64_t pixels, const int64_t* tap_offsets,
                 bool first, const TileOutput& o) {
  const int64_t stride = o.stride;
  float* out = o.out;
  vfloat acc[G * J];
  #pragma GCC unroll 32
  for (int j = 0; j < J; ++j)
    #pragma GCC unroll 32
    for (int g = 0; g < G; ++g)
      acc[g * J + j] = first ? vzero() : vload(out + j * stride + g * kLanes);
  int64_t offsets[J];
  #pragma GCC unroll 32
  for (int j = 0; j < J; ++j) offsets[j] = tap_offsets[j];
  for (int64_t q = 0; q < pixels; ++q) {
    const float* xq = xp + base[q];
    const float* d = dyt + q * stride;
    vfloat dv[G];
    #pragma GCC unroll 32
    for (int g = 0; g < G; ++g) dv[g] = vload(d + g * kLanes);
    #pragma GCC unroll 32
    for (int j = 0; j < J; ++j) {
      const vfloat xv = vset1(xq[offsets[j]]);
      #pragma GCC unroll 32
      for (int g = 0; g < G; ++g) acc[g * J + j] = vfmadd(dv[g], xv, acc[g * J + j]);
    }
  }
  if (!o.dw) {
    #pragma GCC unroll 32
    for (int j = 0; j < J; ++j)
      #pragma GCC unroll 32
      for (int g = 0; g < G; ++g) vstore(out + j * stride + g * kLanes, acc[g * J + j]);
    return;
  }
  alignas(64) float sums[J][G * kLanes];
  #pragma GCC unroll 32
  for (int j = 0; j < J; ++j)
    #pragma GCC unroll 32
    for (int g = 0; g < G; ++g) vstore(sums[j] + g * kLanes, acc[g * J + j]);
  for (int64_t c = 0; c < std::min<int64_t>(G * kLanes, o.channels); ++c)
    for (int j = 0; j < J; ++j) o.dw[c * o.taps + j] = sums[j][c];
}

using WeightTile = void (*)(const float*, const int64_t*, const float*, int64_t, const int64_t*, bool, const TileOutput&);

template <int G, int... J>
constexpr std::array<WeightTile, sizeof...(J)> tiles_for(std::integer_sequence<int, J...>) {
  return {weight_tile<G, J + 1>...};
}
template <int... G>
constexpr std::array<std::array<WeightTile, kTileTaps>, sizeof...(G)> all_tiles(std::integer_sequence<int, G...>) {
  return {tiles_for<G + 1>(std::make_integer_sequence<int, kTileTaps>())...};
}
// kTiles[G - 1][J - 1]
const auto kTiles = all_tiles(std::make_integer_sequence<int, kTileVectors>());

}  // namespace

bool conv2d_backward_weights_tiled(const float* x, const float* dy, float* dw, float* db, const Conv2dShape& s) {
  const int64_t hp = s.h + 2 * s.pad, wp = s.w + 2 * s.pad, ho = s.h_out(), wo = s.w_out(), plane = ho * wo;
  const int64_t taps = s.c_in * s.kh * s.kw, stride = (s.c_out + kLanes - 1) / kLanes * kLanes;
  const int64_t padded_image = s.c_in * hp * wp, pixels = s.n * plane;
  const int64_t tap_blocks = (taps + kTileTaps - 1) / kTileTaps, vectors = stride / kLanes;
  const int64_t chunk = std::max<int64_t>(64, kChunkBytes / (stride * static_cast<int64_t>(sizeof(float))));
  if (pixels <= 0) return false;  // no output pixels: nothing would write dw

  // Workspaces of the calling thread, shared by the team.
  thread_local std::vector<float> padded_buffer, dyt_buffer, out_buffer, bias_buffer;
  thread_local std::vector<int64_t> base_buffer, offset_buffer;
  const float* xp = x;
  float* padded = s.pad > 0 ? grow_workspace(padded_buffer, s.n * padded_image) : nullptr;
  if (padded) xp = padded;
  float* dyt = grow_workspace(dyt_buffer, pixels * stride);
  float* out = grow_workspace(out_buffer, taps * stride);
  float* bias_parts = grow_workspace(bias_buffer, s.n * stride);
  if (static_cast<int64_t>(base_buffer.size()) < pixels) base_buffer.resize(static_cast<size_t>(pixels));
  if (static_cast<int64_t>(offset_buffer.size()) < taps) offset_buffer.resize(static_cast<size_t>(taps));
  int64_t* base = base_buffer.data();  // pointers: the team's threads have thread_locals of their own
  int64_t* offsets = offset_buffer.data();
  for (int64_t ci = 0, t = 0; ci < s.c_in; ++ci)
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx) offsets[t++] = (ci * hp + ky) * wp + kx;

#pragma omp parallel
  {
    // Pad the inputs, transpose dy to pixel-major rows, list each pixel's top-left input.
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.n; ++n) {
      if (padded) pad_planes(x + n * s.c_in * s.h * s.w, s.c_in, s.h, s.w, s.pad, s.pad, padded + n * padded_image);
      // dy's (channel, pixel) blocks of kLanes x kLanes through L1 to pixel-major rows; the image's
      // bias gradient is summed from those rows, pixel by pixel.
      const float* dyn = dy + n * s.c_out * plane;
      float* rows = dyt + n * plane * stride;
      for (int64_t c0 = 0; c0 < stride; c0 += kLanes) {
        const int64_t cn = std::min(kLanes, s.c_out - c0);
        vfloat sum = vzero();
        for (int64_t q0 = 0; q0 < plane; q0 += kLanes) {
          const int64_t qn = std::min(kLanes, plane - q0);
          const LaneMask mask = first_lanes(qn);
          alignas(64) float block[kLanes][kLanes];  // [channel][pixel]
          for (int64_t c = 0; c < kLanes; ++c)
            vstore(block[c], c < cn ? vload_first(mask, dyn + (c0 + c) * plane + q0) : vzero());
          for (int64_t q = 0; q < qn; ++q) {  // column q of the block: pixel q's kLanes channels
            const vfloat row = vcolumn(&block[0][q]);
            vstore(rows + (q0 + q) * stride + c0, row);
            sum = vadd(sum, row);
          }
        }
        vstore(bias_parts + n * stride + c0, sum);
      }
      for (int64_t oy = 0, q = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox, ++q)
          base[n * plane + q] = n * padded_image + oy * s.stride * wp + ox * s.stride;
    }

    // Each thread its tap blocks, over every chunk of pixels; per chunk, channel group by channel
    // group (that group's dyT columns stay in L2 while the thread's tap blocks pass over them).
    const Range mine = split_range(tap_blocks, omp_get_num_threads(), omp_get_thread_num());
    for (int64_t q0 = 0; q0 < pixels; q0 += chunk) {
      const int64_t count = std::min(chunk, pixels - q0);
      const bool first = q0 == 0, last = q0 + count == pixels;
      for (int64_t v = 0; v < vectors; v += kTileVectors) {
        const int64_t g = std::min<int64_t>(kTileVectors, vectors - v);
        for (int64_t b = mine.begin; b < mine.end; ++b) {
          const int64_t t0 = b * kTileTaps, j = std::min<int64_t>(kTileTaps, taps - t0);
          const TileOutput o{out + t0 * stride + v * kLanes, stride, last ? dw + v * kLanes * taps + t0 : nullptr, taps,
                             s.c_out - v * kLanes};
          kTiles[static_cast<size_t>(g - 1)][static_cast<size_t>(j - 1)](xp, base + q0, dyt + q0 * stride + v * kLanes,
                                                                        count, offsets + t0, first, o);
        }
      }
    }
    // db[co]: the images' partial sums, in image order.
#pragma omp for schedule(static)
    for (int64_t co = 0; co < (db ? s.c_out : 0); ++co) {
      float total = 0.0f;
      for (int64_t n = 0; n < s.n; ++n) total += bias_parts[n * stride + co];
      db[co] = total;
    }
  }
  return true;
}

#else  // neither AVX-512 nor AVX2: the im2col path serves every shape

bool conv2d_backward_weights_tiled(const float*, const float*, float*, float*, const Conv2dShape&) { return false; }

#endif

}  // namespace stuckat::cpu
