// The direct convolution's row kernels (conv2d_direct.cpp describes the families), stride 1: a
// vector of kLanes consecutive output pixels of a channel, and "wide rows" (the output plane as one
// run of positions wp apart).
#include "kernels/cpu/conv2d_direct_kernels.h"

#ifdef STUCKAT_SIMD
#include <array>
#include <cstring>
#include <utility>

namespace stuckat::cpu::direct {

// ---- width-vectorised (stride 1) ---------------------------------------------------------

// G channels x V vectors of pixels: acc[g][v] += w[g] * xv[v] for one tap (the width-vectorised and
// wide-row kernels' register tile).
template <int G, int V>
inline void tile_tap(vfloat (&acc)[G][V], const vfloat (&xv)[V], const float* w) {
  #pragma GCC unroll 32
  for (int g = 0; g < G; ++g) {
    const vfloat wv = vset1(w[g]);
    #pragma GCC unroll 32
    for (int v = 0; v < V; ++v) acc[g][v] = vfmadd(wv, xv[v], acc[g][v]);
  }
}

// G channels x `pixels` (up to kLanes * V) consecutive pixels of one output row.
// tap_w is [taps][c_out] offset to the group's first channel.
template <int G, int V>
void width_block(const float* x_origin, const float* tap_w, int64_t c_out, const int64_t* offsets, int64_t taps,
                 const float* bias, int64_t pixels, float* y_origin, int64_t plane) {
  LaneMask mask[V];
  for (int v = 0; v < V; ++v) mask[v] = first_lanes(pixels - v * kLanes);
  vfloat acc[G][V];
  #pragma GCC unroll 32
  for (int g = 0; g < G; ++g)
    #pragma GCC unroll 32
    for (int v = 0; v < V; ++v) acc[g][v] = bias ? vset1(bias[g]) : vzero();
  for (int64_t t = 0; t < taps; ++t) {
    const float* xt = x_origin + offsets[t];
    vfloat xv[V];
    for (int v = 0; v < V; ++v) xv[v] = vload_first(mask[v], xt + v * kLanes);
    tile_tap<G, V>(acc, xv, tap_w + t * c_out);
  }
  #pragma GCC unroll 32
  for (int g = 0; g < G; ++g)
    for (int v = 0; v < V; ++v) vstore_count(y_origin + g * plane + v * kLanes, pixels - v * kLanes, acc[g][v]);
}

using WidthBlock = void (*)(const float*, const float*, int64_t, const int64_t*, int64_t, const float*,
                            int64_t, float*, int64_t);

template <int... G>
constexpr std::array<std::array<WidthBlock, 2>, sizeof...(G)> width_blocks(std::integer_sequence<int, G...>) {
  return {{{width_block<G + 1, 1>, width_block<G + 1, 2>}...}};
}
const auto kWidthBlocks = width_blocks(std::make_integer_sequence<int, kMaxGroupChannels>());

// Weights (c_out, c_in, kh, kw) -> [taps][c_out], so a tap's channel weights are adjacent.
std::vector<float> pack_tap_major(const float* w, int64_t c_out, int64_t taps) {
  std::vector<float> packed(static_cast<size_t>(taps * c_out));
  for (int64_t co = 0; co < c_out; ++co)
    for (int64_t t = 0; t < taps; ++t) packed[static_cast<size_t>(t * c_out + co)] = w[co * taps + t];
  return packed;
}

RowMajorTaps pack_row_major_taps(const float* w, const PaddedConv& p) {
  const int64_t taps = p.taps();
  RowMajorTaps r{std::vector<float>(static_cast<size_t>(taps * p.c_out)), std::vector<int64_t>(static_cast<size_t>(taps))};
  for (int64_t ky = 0, t = 0; ky < p.kh; ++ky)
    for (int64_t ci = 0; ci < p.c_in; ++ci)
      for (int64_t kx = 0; kx < p.kw; ++kx, ++t) {
        const int64_t layer_tap = (ci * p.kh + ky) * p.kw + kx;
        for (int64_t co = 0; co < p.c_out; ++co)
          r.w[static_cast<size_t>(t * p.c_out + co)] = w[co * taps + layer_tap];
        r.offsets[static_cast<size_t>(t)] = (ci * p.hp + ky) * p.wp + kx;
      }
  return r;
}

void width_vectorised_image(const float* xp, const RowMajorTaps& taps, const float* bias, const PaddedConv& p,
                            int64_t pad_h, float* y) {
  const int64_t plane = p.ho * p.wo, row_taps = p.c_in * p.kw, h = p.hp - 2 * pad_h;
  const int64_t groups = (p.c_out + kMaxGroupChannels - 1) / kMaxGroupChannels;
  for (int64_t grp = 0; grp < groups; ++grp) {
    // Even split of the channels into groups of <= kMaxGroupChannels.
    const int64_t co = grp * p.c_out / groups, channels = (grp + 1) * p.c_out / groups - co;
    for (int64_t oy = 0; oy < p.ho; ++oy) {
      // Kernel rows ky whose input row oy + ky lies in [pad_h, pad_h + h): the others read padding.
      const int64_t ky0 = std::max<int64_t>(0, pad_h - oy), ky1 = std::min<int64_t>(p.kh, pad_h + h - oy);
      const int64_t t0 = ky0 * row_taps, count = std::max<int64_t>(0, ky1 - ky0) * row_taps;
      for (int64_t ox = 0; ox < p.wo; ox += 2 * kLanes) {
        const int64_t pixels = std::min(2 * kLanes, p.wo - ox);
        kWidthBlocks[static_cast<size_t>(channels - 1)][pixels > kLanes ? 1 : 0](
            xp + oy * p.wp + ox, taps.w.data() + t0 * p.c_out + co, p.c_out, taps.offsets.data() + t0, count,
            bias ? bias + co : nullptr, pixels, y + co * plane + oy * p.wo + ox, plane);
      }
    }
  }
}

// ---- wide rows (stride 1) ------------------------------------------------------------------
// Output (oy, ox) reads the padded input from oy * wp + ox on, so with rows wp apart ("wide"
// rows: the columns past wo get sums nobody reads) the whole output plane is one run of
// span = (ho - 1) * wp + wo positions, and a tap reads one contiguous run of input for it. A
// register tile of G channels x V vectors of positions costs per tap V unaligned input loads and G
// weight broadcasts for G * V multiply-adds, with no row ends inside the vectors (LeNet-5's conv2,
// 10-pixel rows 14 apart: 100 of 136 positions are kept, against 10 of 16 lanes a row for the
// width-vectorised kernel and a repack of every pixel for the channel-vectorised one).
// G channels x V vectors of wide positions from q0: wide[g][q0 ...] = bias[g] + taps; the last
// vector holds `last` valid positions (its loads are masked: past the span the input may end).
template <int G, int V>
void wide_row_block(const float* xp, const float* tap_w, int64_t c_out, const int64_t* offsets, int64_t taps,
                    const float* bias, int64_t last, float* wide, int64_t wide_stride) {
  vfloat acc[G][V];
  #pragma GCC unroll 32
  for (int g = 0; g < G; ++g)
    #pragma GCC unroll 32
    for (int v = 0; v < V; ++v) acc[g][v] = bias ? vset1(bias[g]) : vzero();
  const LaneMask tail = first_lanes(last);
  for (int64_t t = 0; t < taps; ++t) {
    const float* xt = xp + offsets[t];
    vfloat xv[V];
    #pragma GCC unroll 32
    for (int v = 0; v < V; ++v) xv[v] = v + 1 < V || last >= kLanes ? vload(xt + v * kLanes) : vload_first(tail, xt + v * kLanes);
    tile_tap<G, V>(acc, xv, tap_w + t * c_out);
  }
  #pragma GCC unroll 32
  for (int g = 0; g < G; ++g)
    #pragma GCC unroll 32
    for (int v = 0; v < V; ++v) vstore(wide + g * wide_stride + v * kLanes, acc[g][v]);
}

using WideRowBlock = void (*)(const float*, const float*, int64_t, const int64_t*, int64_t, const float*, int64_t,
                              float*, int64_t);

template <int G, int... V>
constexpr std::array<WideRowBlock, sizeof...(V)> wide_row_blocks_for(std::integer_sequence<int, V...>) {
  return {wide_row_block<G, V + 1>...};
}
template <int... G>
constexpr std::array<std::array<WideRowBlock, kWideRowVectors>, sizeof...(G)> wide_row_blocks(
    std::integer_sequence<int, G...>) {
  return {wide_row_blocks_for<G + 1>(std::make_integer_sequence<int, kWideRowVectors>())...};
}
const auto kWideRowBlocks = wide_row_blocks(std::make_integer_sequence<int, kWideRowChannels>());

// One padded image into y (c_out, ho, wo) through a wide buffer of c_out x span (rounded up to
// whole vectors), then row by row out of it, plus addend (shaped like y; nullable) on the way.
void wide_row_image(const float* xp, const float* tap_w, const float* bias, const int64_t* offsets,
                    const PaddedConv& p, float* y, const float* addend) {
  const int64_t taps = p.taps(), plane = p.ho * p.wo, span = (p.ho - 1) * p.wp + p.wo;
  const int64_t vectors = (span + kLanes - 1) / kLanes, stride = vectors * kLanes;
  thread_local std::vector<float> wide_buffer;
  float* wide = grow_workspace(wide_buffer, p.c_out * stride);
  for (int64_t co = 0; co < p.c_out; co += kWideRowChannels) {
    const int64_t channels = std::min<int64_t>(kWideRowChannels, p.c_out - co);
    const auto& blocks = kWideRowBlocks[static_cast<size_t>(channels - 1)];
    for (int64_t v0 = 0; v0 < vectors; v0 += kWideRowVectors) {
      const int64_t nv = std::min<int64_t>(kWideRowVectors, vectors - v0);
      const int64_t last = span - (v0 + nv - 1) * kLanes;  // valid positions in the block's last vector
      blocks[static_cast<size_t>(nv - 1)](xp + v0 * kLanes, tap_w + co, p.c_out, offsets, taps, bias ? bias + co : nullptr,
                                          last, wide + co * stride + v0 * kLanes, stride);
    }
  }
  for (int64_t c = 0; c < p.c_out; ++c)
    for (int64_t oy = 0; oy < p.ho; ++oy) {
      const float* src = wide + c * stride + oy * p.wp;
      float* dst = y + c * plane + oy * p.wo;
      int64_t j = 0;
      if (addend) {
        const float* a = addend + c * plane + oy * p.wo;
        for (; j + kLanes <= p.wo; j += kLanes) vstore(dst + j, vadd(vload(a + j), vload(src + j)));
        for (; j < p.wo; ++j) dst[j] = a[j] + src[j];
      } else {
        for (; j + kLanes <= p.wo; j += kLanes) vstore(dst + j, vload(src + j));
        for (; j < p.wo; ++j) dst[j] = src[j];
      }
    }
}

}  // namespace stuckat::cpu::direct
#endif  // STUCKAT_SIMD
