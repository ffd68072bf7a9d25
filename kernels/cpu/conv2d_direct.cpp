// Direct convolution (see conv2d_direct.h) in vectors of kLanes floats (simd.h: 16 with AVX-512,
// 8 with AVX2; register tiles sized to the ISA's 32 or 16 vector registers). Three
// register-blocked kernels on zero-padded input planes (c_in, hp, wp), so no tap needs a bounds
// check:
//   channel-vectorised: one vector holds kLanes output channels of one output pixel; a block of
//     up to 14 pixels of an output row keeps 14 accumulators, and every tap (ci, ky, kx) costs one
//     load of kLanes repacked weights plus one broadcast input value per pixel. Used per image for
//     at most kLanes output channels, or few taps, when they fill the lanes better than the output
//     width does (conv2 of LeNet, the first layer of VGG / ResNet).
//   channel groups: 2 to 4 such vectors x up to 8 pixels, so each broadcast feeds 2 to 4 FMAs;
//     the pixels of a run may lie in different rows and images, and a batch goes in runs of
//     images whose padded inputs stay in L2, taps in slices whose weights stay in L1. Small padded
//     planes (deep layers) go position by position, skipping the taps that would multiply
//     padding. Used for more than kLanes output channels (VGG / ResNet layers, and their input
//     gradients).
//   width-vectorised (stride 1): one vector holds kLanes consecutive output pixels of one
//     channel; up to 8 channels (6 with 16 registers) x 2 vectors of a row are accumulated
//     together, every tap costs one or two unaligned input loads plus one weight broadcast per
//     channel. Used for few output channels over wide rows (LeNet conv1: 6 channels x 28 pixels).
// OpenMP splits the batch; each thread pads its images into its own scratch planes. Every output
// element is the bias plus its taps in ascending order (less, on small planes, the taps that read
// padding), whichever thread count.
// The fixed-count loops over accumulators carry `#pragma GCC unroll`: without it GCC 12 at -O3
// keeps the accumulator arrays on the stack and stores them back on every iteration (-O2 does
// not), which costs the weight-gradient kernel 4x.
#include "kernels/cpu/conv2d_direct.h"

#include <cstring>

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

void pad_planes(const float* x, int64_t c, int64_t h, int64_t w, int64_t pad_h, int64_t pad_w, float* dst) {
  const int64_t hp = h + 2 * pad_h, wp = w + 2 * pad_w;
  std::memset(dst, 0, static_cast<size_t>(c * hp * wp) * sizeof(float));
  for (int64_t ci = 0; ci < c; ++ci)
    for (int64_t r = 0; r < h; ++r)
      std::memcpy(dst + (ci * hp + r + pad_h) * wp + pad_w, x + (ci * h + r) * w, static_cast<size_t>(w) * sizeof(float));
}

#ifdef STUCKAT_SIMD
namespace {

using namespace simd;

constexpr int kMaxBlockPixels = 14;  // channel-vectorised: 14 accumulators + weights + broadcast
// Width-vectorised: G channels x V vectors of pixels take G * V accumulators, V input vectors and
// a broadcast: 8 x 2 in 32 registers, 6 x 2 (or 8 x 1) in 16.
constexpr int kMaxGroupChannels = kVectorRegisters >= 32 ? 8 : 6;

// Geometry of one image's convolution once its input is padded.
struct PaddedConv {
  int64_t c_in, hp, wp;  // padded input planes
  int64_t c_out, kh, kw, stride, ho, wo;
  int64_t taps() const { return c_in * kh * kw; }
};

// Offset of tap t = (ci, ky, kx) from an output pixel's top-left input element.
std::vector<int64_t> tap_offsets(const PaddedConv& p) {
  std::vector<int64_t> offsets(static_cast<size_t>(p.taps()));
  for (int64_t ci = 0, t = 0; ci < p.c_in; ++ci)
    for (int64_t ky = 0; ky < p.kh; ++ky)
      for (int64_t kx = 0; kx < p.kw; ++kx) offsets[static_cast<size_t>(t++)] = (ci * p.hp + ky) * p.wp + kx;
  return offsets;
}

// ---- channel-vectorised ------------------------------------------------------------------

// R output pixels (input columns S apart) x 16 channels; tile receives [pixel][channel].
template <int R, int S>
void channel_block(const float* x_origin, const float* packed_w, const int64_t* offsets, int64_t taps,
                   const float* bias16, float* tile) {
  vfloat acc[R];
  #pragma GCC unroll 32
  for (int r = 0; r < R; ++r) acc[r] = vload(bias16);
  for (int64_t t = 0; t < taps; ++t) {
    const vfloat wv = vload(packed_w + t * kLanes);
    const float* xt = x_origin + offsets[t];
    #pragma GCC unroll 32
    for (int r = 0; r < R; ++r) acc[r] = vfmadd(vset1(xt[r * S]), wv, acc[r]);
  }
  for (int r = 0; r < R; ++r) vstore(tile + r * kLanes, acc[r]);
}

using ChannelBlock = void (*)(const float*, const float*, const int64_t*, int64_t, const float*, float*);

template <int S, int... R>
constexpr std::array<ChannelBlock, sizeof...(R)> channel_blocks(std::integer_sequence<int, R...>) {
  return {channel_block<R + 1, S>...};
}
const auto kChannelBlocksStride1 = channel_blocks<1>(std::make_integer_sequence<int, kMaxBlockPixels>());
const auto kChannelBlocksStride2 = channel_blocks<2>(std::make_integer_sequence<int, kMaxBlockPixels>());

// Weights (c_out, c_in, kh, kw) -> [c_out / 16 blocks][taps][16], zero-padded past c_out.
std::vector<float> pack_channel_major(const float* w, int64_t c_out, int64_t taps) {
  const int64_t blocks = (c_out + kLanes - 1) / kLanes;
  std::vector<float> packed(static_cast<size_t>(blocks * taps * kLanes), 0.0f);
  for (int64_t co = 0; co < c_out; ++co)
    for (int64_t t = 0; t < taps; ++t)
      packed[static_cast<size_t>(((co / kLanes) * taps + t) * kLanes + co % kLanes)] = w[co * taps + t];
  return packed;
}

void channel_vectorised_image(const float* xp, const float* packed_w, const float* padded_bias,
                              const int64_t* offsets, const PaddedConv& p, float* y) {
  const int64_t taps = p.taps(), blocks = (p.c_out + kLanes - 1) / kLanes, plane = p.ho * p.wo;
  const int64_t chunks = (p.wo + kMaxBlockPixels - 1) / kMaxBlockPixels;
  const int64_t chunk = (p.wo + chunks - 1) / chunks;  // even split of a row, <= 14 pixels
  const auto& kernels = p.stride == 1 ? kChannelBlocksStride1 : kChannelBlocksStride2;
  alignas(64) float tile[kMaxBlockPixels * kLanes];
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const float* bias = padded_bias + blk * kLanes;
    const int64_t channels = std::min(kLanes, p.c_out - blk * kLanes);
    const float* w_blk = packed_w + blk * taps * kLanes;
    float* y_blk = y + blk * kLanes * plane;
    for (int64_t oy = 0; oy < p.ho; ++oy)
      for (int64_t ox = 0; ox < p.wo; ox += chunk) {
        const int64_t pixels = std::min(chunk, p.wo - ox);
        kernels[static_cast<size_t>(pixels - 1)](xp + (oy * p.wp + ox) * p.stride, w_blk, offsets, taps, bias, tile);
        // Transpose the [pixel][channel] tile into the channel planes of NCHW.
        for (int64_t c = 0; c < channels; ++c) {
          float* out = y_blk + c * plane + oy * p.wo + ox;
          for (int64_t i = 0; i < pixels; ++i) out[i] = tile[i * kLanes + c];
        }
      }
  }
}

// ---- channel groups: 2 to 4 blocks of kLanes channels x up to 8 pixels of a run of images ----

constexpr int kMaxGroupBlocks = kVectorRegisters >= 32 ? 4 : 3;
constexpr int kMaxGroupPixels = 8;
// Pixels per call for `blocks` blocks: blocks * pixels accumulators, a weight vector per block
// and one broadcast fit the registers (32: 8 pixels up to 3 blocks, 6 at 4; 16: 8, 6, 4 pixels
// for 1, 2, 3 blocks).
constexpr int group_pixels(int64_t blocks) {
  const int64_t fit = (kVectorRegisters - 1 - blocks) / blocks;
  return static_cast<int>(fit < kMaxGroupPixels ? fit : kMaxGroupPixels);
}

// R output pixels anywhere in the padded planes (base[r]: a pixel's top-left input element) x CB
// blocks of 16 channels, over the taps ids[j0..j1) (ascending): each tap costs CB weight loads and
// R broadcasts for CB * R FMAs (the one-block kernel above: 1 + R loads for R). sums
// [pixel][block][channel] holds the running sums (the bias before the first tap) and receives
// them, so taps may come in slices whose weights stay in L1 while every run of pixels uses them;
// the order of the additions, and so every result, is the same as in one pass.
template <int CB, int R>
void group_block(const float* xp, const int64_t* base, const float* packed_w, const int64_t* offsets,
                 const int32_t* ids, int64_t j0, int64_t j1, float* sums) {
  vfloat acc[CB * R];
  const float* px[R];
  #pragma GCC unroll 32
  for (int r = 0; r < R; ++r) px[r] = xp + base[r];
  #pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 32
    for (int cb = 0; cb < CB; ++cb) acc[cb * R + r] = vload(sums + (r * CB + cb) * kLanes);
  for (int64_t j = j0; j < j1; ++j) {
    const int64_t t = ids[j], o = offsets[t];
    const float* wt = packed_w + t * CB * kLanes;
    vfloat wv[CB];
    #pragma GCC unroll 32
    for (int cb = 0; cb < CB; ++cb) wv[cb] = vload(wt + cb * kLanes);
    #pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const vfloat xv = vset1(px[r][o]);
      #pragma GCC unroll 32
      for (int cb = 0; cb < CB; ++cb) acc[cb * R + r] = vfmadd(xv, wv[cb], acc[cb * R + r]);
    }
  }
  #pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 32
    for (int cb = 0; cb < CB; ++cb) vstore(sums + (r * CB + cb) * kLanes, acc[cb * R + r]);
}

using GroupBlock = void (*)(const float*, const int64_t*, const float*, const int64_t*, const int32_t*, int64_t, int64_t,
                            float*);

template <int CB, int... R>
constexpr std::array<GroupBlock, sizeof...(R)> group_blocks_for(std::integer_sequence<int, R...>) {
  return {group_block<CB, R + 1>...};
}
template <int... CB>
constexpr std::array<std::array<GroupBlock, kMaxGroupPixels>, sizeof...(CB)> group_blocks(std::integer_sequence<int, CB...>) {
  return {group_blocks_for<CB + 1>(std::make_integer_sequence<int, kMaxGroupPixels>())...};
}
const auto kGroupBlocks = group_blocks(std::make_integer_sequence<int, kMaxGroupBlocks>());

// The weights a convolution applies, element (o, t) for output channel o and tap t of a PaddedConv
// with c_out channels and `taps` taps:
//   forward: the layer's own, w[o * taps + t];
//   input gradient (flipped): the layer's weights (c_in = c_out here, layer_c_out, kh, kw) flipped
//   in space with the channel roles swapped: for t = c * k2 + r, w[(c * c_out + o) * k2 + k2-1-r].
struct ConvWeights {
  const float* w;
  int64_t k2 = 0;  // kh * kw when flipped, 0 otherwise

  // The weights as a plain (c_out, taps) array: w itself, or for flipped ones a copy in `buffer`
  // made in blocks of 16 channels o (each layer channel's read one contiguous run, the writes a
  // few rows at a time; element by element every write was a page apart).
  const float* plain(int64_t c_out, int64_t taps, std::vector<float>& buffer) const {
    if (k2 == 0) return w;
    float* out = grow_workspace(buffer, c_out * taps);
    const int64_t layer_c_out = taps / k2;
#pragma omp parallel for schedule(static)
    for (int64_t o0 = 0; o0 < c_out; o0 += kLanes)
      for (int64_t c = 0; c < layer_c_out; ++c)
        for (int64_t o = o0; o < std::min(c_out, o0 + kLanes); ++o)
          for (int64_t r = 0; r < k2; ++r) out[o * taps + c * k2 + r] = w[(c * c_out + o) * k2 + (k2 - 1 - r)];
    return out;
  }
};

// The blocks of 16 output channels split evenly into groups of at most kMaxGroupBlocks; the
// weights packed group after group as [tap][block of the group][16] (zero past c_out).
struct ChannelGroups {
  std::vector<int64_t> first;  // first block of each group, then the block count
  const float* packed;  // in the caller's workspace
  int64_t count() const { return static_cast<int64_t>(first.size()) - 1; }
  int64_t blocks(int64_t g) const { return first[static_cast<size_t>(g + 1)] - first[static_cast<size_t>(g)]; }
};

// `storage`: a workspace kept across calls (a deep layer's packed weights are megabytes, which a
// fresh allocation would zero and fault in on one thread before every call).
ChannelGroups pack_channel_groups(const ConvWeights& w, int64_t c_out, int64_t taps, std::vector<float>& storage) {
  ChannelGroups g;
  const int64_t blocks = (c_out + kLanes - 1) / kLanes, count = (blocks + kMaxGroupBlocks - 1) / kMaxGroupBlocks;
  for (int64_t k = 0; k <= count; ++k) g.first.push_back(k * blocks / count);
  // In tiles of 16 channels x 16 taps, so that a deep layer's 2-10 MB of weights are read and
  // written a cache line at a time (channel by channel, the writes strode cbs * 64 bytes apart).
  // Flipped weights are flipped on the way (no intermediate copy).
  const int64_t tiles = (taps + kLanes - 1) / kLanes;
  float* packed = grow_workspace(storage, blocks * taps * kLanes);
  g.packed = packed;
#pragma omp parallel for schedule(static)
  for (int64_t job = 0; job < blocks * tiles; ++job) {
    const int64_t block = job / tiles, t0 = (job % tiles) * kLanes, t1 = std::min(taps, t0 + kLanes);
    const int64_t k = std::upper_bound(g.first.begin(), g.first.end(), block) - g.first.begin() - 1;
    const int64_t first = g.first[static_cast<size_t>(k)], cbs = g.blocks(k), cb = block - first;
    float* dst = packed + first * taps * kLanes;
    for (int64_t lane = 0; lane < kLanes; ++lane) {
      const int64_t co = block * kLanes + lane;
      if (co >= c_out) {
        for (int64_t t = t0; t < t1; ++t) dst[(t * cbs + cb) * kLanes + lane] = 0.0f;
      } else if (w.k2 == 0) {
        for (int64_t t = t0; t < t1; ++t) dst[(t * cbs + cb) * kLanes + lane] = w.w[co * taps + t];
      } else {
        for (int64_t t = t0, c = t0 / w.k2, r = t0 % w.k2; t < t1; ++t) {
          dst[(t * cbs + cb) * kLanes + lane] = w.w[(c * c_out + co) * w.k2 + (w.k2 - 1 - r)];
          if (++r == w.k2) r = 0, ++c;
        }
      }
    }
  }
  return g;
}

// Weights of one group's taps kept in L1 while the runs of pixels go through them.
constexpr int64_t kGroupSliceBytes = 24 << 10;

// Output planes of at most this many pixels go position by position (below) when padded.
constexpr int64_t kSmallPlane = 16;
bool by_position(int64_t plane, int64_t pad_h, int64_t pad_w) { return plane <= kSmallPlane && (pad_h > 0 || pad_w > 0); }

// Layers of at most this many taps (a first layer: 3 x 3 x 3) stay on the one-vector kernel:
// the groups' per-run set-up and write-back would outweigh their arithmetic.
// With 16 registers (AVX2) the groups hold fewer pixels a run, so the one-vector kernel wins up to
// more taps: LeNet conv2 over 2-3 input channels (50-75 taps) ran 15-30% faster on it (single
// thread, batch 1000, 2026-11-27).
constexpr int64_t kFewTaps = kVectorRegisters >= 32 ? 32 : 80;

// The taps each run goes through: small padded planes (by_position), per output position those
// (ci, ky, kx) that read the image rather than its zero padding there; otherwise one list of
// every tap. Ascending. pad_h / pad_w: the padding around the h x w image in the planes.
std::vector<std::vector<int32_t>> tap_lists(const PaddedConv& p, int64_t h, int64_t w, int64_t pad_h, int64_t pad_w) {
  const int64_t plane = p.ho * p.wo;
  const bool positions = by_position(plane, pad_h, pad_w);
  std::vector<std::vector<int32_t>> lists(static_cast<size_t>(positions ? plane : 1));
  for (int64_t pos = 0; pos < static_cast<int64_t>(lists.size()); ++pos) {
    const int64_t oy = pos / p.wo, ox = pos % p.wo;
    for (int64_t ci = 0, t = 0; ci < p.c_in; ++ci)
      for (int64_t ky = 0; ky < p.kh; ++ky)
        for (int64_t kx = 0; kx < p.kw; ++kx, ++t) {
          const int64_t iy = oy * p.stride + ky, ix = ox * p.stride + kx;
          if (!positions || (iy >= pad_h && iy < pad_h + h && ix >= pad_w && ix < pad_w + w))
            lists[static_cast<size_t>(pos)].push_back(static_cast<int32_t>(t));
        }
  }
  return lists;
}

// Convolves `images` padded images (xp, padded_image floats apart) into y (their first output
// element; c_out * plane floats apart), group by group and slice of taps by slice (a slice's
// weights are read from L1 for every run of pixels), in runs of up to 8 pixels (lists: tap_lists):
//   planes of more than kSmallPlane pixels: runs of consecutive pixels of all the images (across
//     rows and images), every tap;
//   small planes (deep layers: 4x4, 2x2): runs of one pixel position in several images, and only
//     the taps inside the image there (at 2x2 with a 3x3 kernel, 4 of 9: the rest multiply zero
//     padding). A skipped tap would add 0 * w: with finite weights every sum stays the same (up
//     to the sign of a zero).
void channel_groups_images(const float* xp, int64_t padded_image, int64_t images, const ChannelGroups& groups,
                           const std::vector<std::vector<int32_t>>& lists, const float* padded_bias,
                           const int64_t* offsets, const PaddedConv& p, float* y) {
  const int64_t taps = p.taps(), plane = p.ho * p.wo, pixels = images * plane;
  const bool position_runs = lists.size() > 1;  // else one list for every pixel, in image order
  thread_local std::vector<int64_t> base, out;
  thread_local std::vector<float> sums_buffer;
  base.resize(static_cast<size_t>(pixels));
  out.resize(static_cast<size_t>(pixels));
  for (int64_t q = 0; q < pixels; ++q) {  // pixel q: image i, output (oy, ox)
    const int64_t i = position_runs ? q % images : q / plane, pos = position_runs ? q / images : q % plane;
    const int64_t oy = pos / p.wo, ox = pos % p.wo;
    base[static_cast<size_t>(q)] = i * padded_image + (oy * p.wp + ox) * p.stride;
    out[static_cast<size_t>(q)] = i * p.c_out * plane + oy * p.wo + ox;
  }
  const int64_t run_span = position_runs ? images : pixels;  // runs never cross a position
  std::vector<std::pair<int64_t, int64_t>> range(lists.size());
  float* sums = grow_workspace(sums_buffer, pixels * kMaxGroupBlocks * kLanes);
  for (int64_t g = 0; g < groups.count(); ++g) {
    const int64_t first = groups.first[static_cast<size_t>(g)], cbs = groups.blocks(g);
    const int64_t width = cbs * kLanes, channels = std::min(width, p.c_out - first * kLanes);
    const float* w = groups.packed + first * taps * kLanes;
    const auto& kernels = kGroupBlocks[static_cast<size_t>(cbs - 1)];
    const int64_t run = group_pixels(cbs), slice = std::max<int64_t>(1, kGroupSliceBytes / (width * 4));
    for (int64_t q = 0; q < pixels; ++q)
      std::memcpy(sums + q * width, padded_bias + first * kLanes, static_cast<size_t>(width) * sizeof(float));
    for (int64_t t0 = 0; t0 < taps; t0 += slice) {
      const int64_t t1 = std::min(taps, t0 + slice);
      for (size_t l = 0; l < lists.size(); ++l) {  // each list's part in the slice
        const std::vector<int32_t>& ids = lists[l];
        range[l] = {std::lower_bound(ids.begin(), ids.end(), t0) - ids.begin(),
                    std::lower_bound(ids.begin(), ids.end(), t1) - ids.begin()};
      }
      // A run of images through every position before the next run: their inputs stay in L1.
      for (int64_t i0 = 0; i0 < run_span; i0 += run) {
        const int64_t r = std::min(run, run_span - i0);
        for (size_t l = 0; l < lists.size(); ++l) {
          if (range[l].first == range[l].second) continue;
          const int64_t q0 = static_cast<int64_t>(l) * run_span + i0;
          kernels[static_cast<size_t>(r - 1)](xp, base.data() + q0, w, offsets, lists[l].data(), range[l].first,
                                              range[l].second, sums + q0 * width);
        }
      }
    }
    // [pixel][channel] into the channel planes of NCHW, in blocks of 16 pixels x 16 channels.
    // Where the 16 pixels are consecutive outputs of one image, the block goes through L1 and
    // leaves as 16 vectors (one per channel); elsewhere (image boundaries, small planes taken
    // position by position) element by element.
    for (int64_t q0 = 0; q0 < pixels; q0 += kLanes) {
      const int64_t qn = std::min(kLanes, pixels - q0), at = out[static_cast<size_t>(q0)];
      bool consecutive = qn == kLanes;
      for (int64_t i = 1; i < qn && consecutive; ++i) consecutive = out[static_cast<size_t>(q0 + i)] == at + i;
      for (int64_t c0 = 0; c0 < channels; c0 += kLanes) {
        const int64_t cn = std::min(kLanes, channels - c0);
        float* y0 = y + (first * kLanes + c0) * plane;
        if (consecutive) {
          alignas(64) float block[kLanes][kLanes];  // [pixel][channel]
          for (int64_t i = 0; i < kLanes; ++i) vstore(block[i], vload(sums + (q0 + i) * width + c0));
          for (int64_t c = 0; c < cn; ++c) vstore(y0 + c * plane + at, vcolumn(&block[0][c]));
        } else {
          for (int64_t c = 0; c < cn; ++c)
            for (int64_t q = q0; q < q0 + qn; ++q) y0[c * plane + out[static_cast<size_t>(q)]] = sums[q * width + c0 + c];
        }
      }
    }
  }
}

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

void width_vectorised_image(const float* xp, const float* tap_w, const float* bias, const int64_t* offsets,
                            const PaddedConv& p, float* y) {
  const int64_t taps = p.taps(), plane = p.ho * p.wo;
  const int64_t groups = (p.c_out + kMaxGroupChannels - 1) / kMaxGroupChannels;
  for (int64_t grp = 0; grp < groups; ++grp) {
    // Even split of the channels into groups of <= kMaxGroupChannels.
    const int64_t co = grp * p.c_out / groups, channels = (grp + 1) * p.c_out / groups - co;
    for (int64_t oy = 0; oy < p.ho; ++oy)
      for (int64_t ox = 0; ox < p.wo; ox += 2 * kLanes) {
        const int64_t pixels = std::min(2 * kLanes, p.wo - ox);
        kWidthBlocks[static_cast<size_t>(channels - 1)][pixels > kLanes ? 1 : 0](
            xp + oy * p.wp + ox, tap_w + co, p.c_out, offsets, taps, bias ? bias + co : nullptr, pixels,
            y + co * plane + oy * p.wo + ox, plane);
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
constexpr int kWideRowChannels = kVectorRegisters >= 32 ? 8 : 4;
constexpr int kWideRowVectors = 3;
// Where the driver takes wide rows: stride 1, more output channels than the width-vectorised
// kernel fills lanes with, and at most kWideRowMaxTaps taps (each group of channels re-reads the
// whole padded image: past ~300 taps the image leaves L1 and the channel kernels win). Measured
// single-threaded on AVX2 (AMD EPYC, 2026-11-28, GFLOP/s before -> after): LeNet-5 conv2 at
// batch 1000 over 1-6 input channels 20-43 -> 28-50; 3->64 at 32x32 24 -> 45; 16->16 at 28x28
// 43 -> 56; 24->32 at 16x16 48 -> 58; 16->6 5x5 (400 taps) 58 -> 46 and 64->128 at 16x16 60 -> 50
// (hence the limit). Not measured with AVX-512, which keeps the kernels it was tuned with.
constexpr bool kWideRows = kVectorRegisters < 32;
constexpr int64_t kWideRowMaxTaps = 300;

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

// ---- driver ------------------------------------------------------------------------------

// The share of the lanes doing useful work along a dimension of `size` elements.
double lane_use(int64_t size) {
  return static_cast<double>(size) / static_cast<double>(((size + kLanes - 1) / kLanes) * kLanes);
}

// Images [first, first + count) of x (c, h, w each) zero-padded by (pad_h, pad_w) into `buffer`
// as (c, hp, wp) planes; returns where they start.
const float* pad_images(const float* x, int64_t first, int64_t count, int64_t h, int64_t w_in, int64_t pad_h,
                        int64_t pad_w, const PaddedConv& p, std::vector<float>& buffer) {
  const int64_t in_image = p.c_in * h * w_in, padded_image = p.c_in * p.hp * p.wp;
  if (pad_h == 0 && pad_w == 0) return x + first * in_image;
  float* dst = grow_workspace(buffer, count * padded_image);
  for (int64_t i = 0; i < count; ++i)
    pad_planes(x + (first + i) * in_image, p.c_in, h, w_in, pad_h, pad_w, dst + i * padded_image);
  return dst;
}

// y[0, count) = addend[0, count) + y[0, count), elementwise.
void add_addend(float* y, const float* addend, int64_t count) {
  for (int64_t i = 0; i < count; ++i) y[i] = addend[i] + y[i];
}

// Convolves every image x_n (c, h, w), padded by (pad_h, pad_w), into y_n (p.c_out, p.ho, p.wo),
// plus addend_n when addend is not null.
void convolve_batch(const float* x, int64_t n, int64_t h, int64_t w_in, int64_t pad_h, int64_t pad_w,
                    const ConvWeights& w, const float* b, float* y, const PaddedConv& p,
                    const float* addend = nullptr) {
  const int64_t taps = p.taps(), plane = p.ho * p.wo, padded_image = p.c_in * p.hp * p.wp;
  const bool by_width = p.stride == 1 && lane_use(p.wo) > lane_use(p.c_out);
  const bool wide_rows = kWideRows && p.stride == 1 && !by_width && taps <= kWideRowMaxTaps;
  const std::vector<int64_t> offsets = tap_offsets(p);
  std::vector<float> padded_bias(static_cast<size_t>(((p.c_out + kLanes - 1) / kLanes) * kLanes), 0.0f);
  if (b) std::copy(b, b + p.c_out, padded_bias.begin());

  if (!wide_rows && !by_width && p.c_out > kLanes && taps > kFewTaps) {
    // Channel groups over runs of images: enough pixels per run for a slice of a group's weights
    // to be reused from L1 (deep layers have 4 or 16 pixels an image), padded inputs within ~512
    // KB (small planes: 1 MB, in whole runs of one position), and at least two runs per thread.
    thread_local std::vector<float> packed_buffer;
    const ChannelGroups groups = pack_channel_groups(w, p.c_out, taps, packed_buffer);
    const std::vector<std::vector<int32_t>> lists = tap_lists(p, h, w_in, pad_h, pad_w);
    const int64_t threads = omp_get_max_threads(), share = std::max<int64_t>(1, n / (2 * threads));
    int64_t per_run = 1;
    if (by_position(plane, pad_h, pad_w)) {
      const int64_t r = group_pixels(groups.blocks(0)), fit = (int64_t(256) << 10) / padded_image;
      per_run = std::max(r, std::min(fit, share) / r * r);
    } else {
      per_run = std::max<int64_t>(1, (128 + plane - 1) / plane);
      per_run = std::min(per_run, std::max<int64_t>(1, (int64_t(128) << 10) / padded_image));
      per_run = std::min(per_run, share);
    }
    const int64_t runs = (n + per_run - 1) / per_run;
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < runs; ++k) {
      thread_local std::vector<float> padded_buffer;
      const int64_t first = k * per_run, count = std::min(per_run, n - first);
      const float* xp = pad_images(x, first, count, h, w_in, pad_h, pad_w, p, padded_buffer);
      channel_groups_images(xp, padded_image, count, groups, lists, padded_bias.data(), offsets.data(), p,
                            y + first * p.c_out * plane);
      if (addend)
        add_addend(y + first * p.c_out * plane, addend + first * p.c_out * plane, count * p.c_out * plane);
    }
    return;
  }

  thread_local std::vector<float> plain_buffer;
  const float* plain = w.plain(p.c_out, taps, plain_buffer);
  const std::vector<float> packed =
      by_width || wide_rows ? pack_tap_major(plain, p.c_out, taps) : pack_channel_major(plain, p.c_out, taps);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    thread_local std::vector<float> padded_buffer;
    const float* xp = pad_images(x, i, 1, h, w_in, pad_h, pad_w, p, padded_buffer);
    float* yi = y + i * p.c_out * plane;
    const float* ai = addend ? addend + i * p.c_out * plane : nullptr;
    if (wide_rows) {
      wide_row_image(xp, packed.data(), b, offsets.data(), p, yi, ai);
      continue;
    }
    if (by_width)
      width_vectorised_image(xp, packed.data(), b, offsets.data(), p, yi);
    else
      channel_vectorised_image(xp, packed.data(), padded_bias.data(), offsets.data(), p, yi);
    if (ai) add_addend(yi, ai, p.c_out * plane);
  }
}

// ---- weight gradient (stride 1) ---------------------------------------------------------

// dw[co][ci][ky][kx] = sum over images and output pixels of dy[co][oy][ox] * xp[ci][oy+ky][ox+kx]:
// for one (ci, ky), G channels x KW taps are accumulated lane-wise over the output width, in
// registers across all of a thread's images, and reduced across lanes once at the end.
template <int G, int KW>
void weight_block(const float* xp, int64_t x_image, const float* dy, int64_t dy_image, int64_t images,
                  const PaddedConv& p, int64_t ci, int64_t ky, int64_t co, float* dw) {
  const int64_t plane = p.ho * p.wo;
  vfloat acc[G * KW];  // [channel][tap]; one flat array so GCC keeps it all in registers
  #pragma GCC unroll 32
  for (int a = 0; a < G * KW; ++a) acc[a] = vzero();
  // One flat loop over (image, output row, 16-pixel segment).
  const int64_t segments = (p.wo + kLanes - 1) / kLanes;
  const float* x_rows = xp + (ci * p.hp + ky) * p.wp;
  const float* dy_rows = dy + co * plane;
  int64_t i = 0, oy = 0, ox = 0;
  for (int64_t step = 0; step < images * p.ho * segments; ++step) {
    const float* x_row = x_rows + i * x_image + oy * p.wp + ox;
    const float* dy_row = dy_rows + i * dy_image + oy * p.wo + ox;
    const LaneMask mask = first_lanes(p.wo - ox);
    vfloat dyv[G];
    #pragma GCC unroll 32
    for (int g = 0; g < G; ++g) dyv[g] = vload_first(mask, dy_row + g * plane);
    #pragma GCC unroll 32
    for (int k = 0; k < KW; ++k) {
      // Lanes past the row are zero in dyv, so xv may hold anything there.
      const vfloat xv = vload_first(mask, x_row + k);
      #pragma GCC unroll 32
      for (int g = 0; g < G; ++g) acc[g * KW + k] = vfmadd(dyv[g], xv, acc[g * KW + k]);
    }
    ox += kLanes;
    if (ox >= p.wo) {
      ox = 0;
      if (++oy == p.ho) oy = 0, ++i;
    }
  }
  const int64_t taps = p.c_in * p.kh * KW;
  #pragma GCC unroll 32
  for (int g = 0; g < G; ++g)
    #pragma GCC unroll 32
    for (int k = 0; k < KW; ++k) dw[(co + g) * taps + (ci * p.kh + ky) * KW + k] = lane_sum(acc[g * KW + k]);
}

constexpr int kMaxWeightKw = 7;
// Channels per block for a kernel width: G*KW accumulators + G dy vectors + 1 input vector.
constexpr int weight_group(int kw) {
  if (kVectorRegisters >= 32) return kw >= 6 ? 3 : kw >= 4 ? 4 : kw >= 3 ? 6 : 8;
  return kw >= 6 ? 1 : kw >= 4 ? 2 : kw >= 3 ? 3 : 4;
}

using WeightBlock = void (*)(const float*, int64_t, const float*, int64_t, int64_t, const PaddedConv&, int64_t,
                             int64_t, int64_t, float*);

template <int KW, int... G>
constexpr std::array<WeightBlock, kMaxGroupChannels> weight_blocks_for(std::integer_sequence<int, G...>) {
  return {(G + 1 <= weight_group(KW) ? weight_block<(G + 1 <= weight_group(KW) ? G + 1 : 1), KW> : nullptr)...};
}
template <int... KW>
constexpr std::array<std::array<WeightBlock, kMaxGroupChannels>, sizeof...(KW)> weight_blocks(
    std::integer_sequence<int, KW...>) {
  return {weight_blocks_for<KW + 1>(std::make_integer_sequence<int, kMaxGroupChannels>())...};
}
const auto kWeightBlocks = weight_blocks(std::make_integer_sequence<int, kMaxWeightKw>());

}  // namespace

bool conv2d_forward_direct(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s,
                           const float* addend) {
  if (s.stride != 1 && s.stride != 2) return false;
  const PaddedConv p{s.c_in, s.h + 2 * s.pad, s.w + 2 * s.pad, s.c_out, s.kh, s.kw, s.stride, s.h_out(), s.w_out()};
  convolve_batch(x, s.n, s.h, s.w, s.pad, s.pad, ConvWeights{w}, b, y, p, addend);
  return true;
}

bool conv2d_backward_dx_direct(const float* w, const float* dy, float* dx, const Conv2dShape& s) {
  if (s.stride != 1 || s.pad > s.kh - 1 || s.pad > s.kw - 1) return false;
  const int64_t pad_h = s.kh - 1 - s.pad, pad_w = s.kw - 1 - s.pad, ho = s.h_out(), wo = s.w_out();
  const PaddedConv p{s.c_out, ho + 2 * pad_h, wo + 2 * pad_w, s.c_in, s.kh, s.kw, 1, s.h, s.w};
  // dx's convolution: input channels = the layer's c_out, output channels = its c_in.
  convolve_batch(dy, s.n, ho, wo, pad_h, pad_w, ConvWeights{w, s.kh * s.kw}, nullptr, dx, p);
  return true;
}

bool conv2d_backward_weights_direct(const float* x, const float* dy, float* dw, float* db, const Conv2dShape& s) {
  if (s.stride != 1 || s.kw > kMaxWeightKw) return false;
  const PaddedConv p{s.c_in, s.h + 2 * s.pad, s.w + 2 * s.pad, s.c_out, s.kh, s.kw, 1, s.h_out(), s.w_out()};
  const int64_t x_image = p.c_in * p.hp * p.wp, dy_image = p.c_out * p.ho * p.wo;
  const int threads = omp_get_max_threads();
  // Every (ci, ky, channel block) pass re-reads a thread's share of the batch: keep it in L2.
  constexpr int64_t kMaxThreadFloats = 256 * 1024;
  if ((s.n + threads - 1) / threads * (x_image + dy_image) > kMaxThreadFloats) return false;

  const int64_t dw_size = s.c_out * p.taps(), partial_size = dw_size + s.c_out;
  thread_local std::vector<float> partial_buffer;  // the calling thread's, shared by the team
  float* partials = grow_workspace(partial_buffer, threads * partial_size);
  const int group = weight_group(static_cast<int>(s.kw));
  const auto& blocks = kWeightBlocks[static_cast<size_t>(s.kw - 1)];

#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const Range mine = split_range(s.n, omp_get_num_threads(), t);
    const int64_t images = mine.end - mine.begin;
    float* dw_part = partials + t * partial_size;
    float* db_part = dw_part + dw_size;
    const float* dy_mine = dy + mine.begin * dy_image;
    thread_local std::vector<float> padded_buffer;
    const float* xp = pad_images(x, mine.begin, images, s.h, s.w, s.pad, s.pad, p, padded_buffer);
    for (int64_t ci = 0; ci < s.c_in; ++ci)
      for (int64_t ky = 0; ky < s.kh; ++ky)
        for (int64_t co = 0; co < s.c_out; co += group) {
          const int64_t channels = std::min<int64_t>(group, s.c_out - co);
          blocks[static_cast<size_t>(channels - 1)](xp, x_image, dy_mine, dy_image, images, p, ci, ky, co, dw_part);
        }
    const int64_t plane = p.ho * p.wo;
    for (int64_t co = 0; co < s.c_out && db; ++co) {
      vfloat sum = vzero();  // 16 lane-wise partial sums, reduced once
      for (int64_t i = 0; i < images; ++i)
        for (int64_t q = 0; q < plane; q += kLanes)
          sum = vadd(sum, vload_first(first_lanes(plane - q), dy_mine + i * dy_image + co * plane + q));
      db_part[co] = lane_sum(sum);
    }
#pragma omp barrier
    // Reduce in thread order 0, 1, ... (fixed for a fixed team size), split by element.
    const int team = omp_get_num_threads();
#pragma omp for schedule(static)
    for (int64_t i = 0; i < partial_size; ++i) {
      if (i >= dw_size && !db) continue;
      float sum = 0.0f;
      for (int u = 0; u < team; ++u) sum += partials[u * partial_size + i];
      if (i < dw_size)
        dw[i] = sum;
      else
        db[i - dw_size] = sum;
    }
  }
  return true;
}

#else  // neither AVX-512 nor AVX2: the im2col path serves every shape

bool conv2d_forward_direct(const float*, const float*, const float*, float*, const Conv2dShape&, const float*) {
  return false;
}
bool conv2d_backward_dx_direct(const float*, const float*, float*, const Conv2dShape&) { return false; }
bool conv2d_backward_weights_direct(const float*, const float*, float*, float*, const Conv2dShape&) { return false; }

#endif

}  // namespace stuckat::cpu
