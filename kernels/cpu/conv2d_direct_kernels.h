// Private to kernels/cpu: what the direct convolution's kernel families (conv2d_direct_channels.cpp:
// channel-vectorised and channel groups; conv2d_direct_rows.cpp: width-vectorised and wide rows)
// share with their driver (conv2d_direct.cpp): the padded geometry, the register budgets, the
// weight packings and each family's per-image (or per-run) entry point. AVX-512 / AVX2 builds only.
#pragma once
#include "kernels/cpu/simd.h"

#ifdef STUCKAT_SIMD
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/gemm.h"

namespace stuckat::cpu::direct {

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
inline std::vector<int64_t> tap_offsets(const PaddedConv& p) {
  std::vector<int64_t> offsets(static_cast<size_t>(p.taps()));
  for (int64_t ci = 0, t = 0; ci < p.c_in; ++ci)
    for (int64_t ky = 0; ky < p.kh; ++ky)
      for (int64_t kx = 0; kx < p.kw; ++kx) offsets[static_cast<size_t>(t++)] = (ci * p.hp + ky) * p.wp + kx;
  return offsets;
}

constexpr int kMaxGroupBlocks = kVectorRegisters >= 32 ? 4 : 3;
constexpr int kMaxGroupPixels = 8;
// Pixels per call for `blocks` blocks: blocks * pixels accumulators, a weight vector per block
// and one broadcast fit the registers (32: 8 pixels up to 3 blocks, 6 at 4; 16: 8, 6, 4 pixels
// for 1, 2, 3 blocks).
constexpr int group_pixels(int64_t blocks) {
  const int64_t fit = (kVectorRegisters - 1 - blocks) / blocks;
  return static_cast<int>(fit < kMaxGroupPixels ? fit : kMaxGroupPixels);
}


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

// Output planes of at most this many pixels go position by position (below) when padded.
constexpr int64_t kSmallPlane = 16;
inline bool by_position(int64_t plane, int64_t pad_h, int64_t pad_w) { return plane <= kSmallPlane && (pad_h > 0 || pad_w > 0); }

// Layers of at most this many taps (a first layer: 3 x 3 x 3) stay on the one-vector kernel:
// the groups' per-run set-up and write-back would outweigh their arithmetic.
// With 16 registers (AVX2) the groups hold fewer pixels a run, so the one-vector kernel wins up to
// more taps: LeNet conv2 over 2-3 input channels (50-75 taps) ran 15-30% faster on it (single
// thread, batch 1000, 2026-11-27).
constexpr int64_t kFewTaps = kVectorRegisters >= 32 ? 32 : 80;

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

// ---- the families' entry points ---------------------------------------------------------

std::vector<float> pack_channel_major(const float* w, int64_t c_out, int64_t taps);
void channel_vectorised_image(const float* xp, const float* packed_w, const float* padded_bias,
                              const int64_t* offsets, const PaddedConv& p, float* y);
ChannelGroups pack_channel_groups(const ConvWeights& w, int64_t c_out, int64_t taps, std::vector<float>& storage);
std::vector<std::vector<int32_t>> tap_lists(const PaddedConv& p, int64_t h, int64_t w, int64_t pad_h, int64_t pad_w);
void channel_groups_images(const float* xp, int64_t padded_image, int64_t images, const ChannelGroups& groups,
                           const std::vector<std::vector<int32_t>>& lists, const float* padded_bias,
                           const int64_t* offsets, const PaddedConv& p, float* y);
std::vector<float> pack_tap_major(const float* w, int64_t c_out, int64_t taps);
// The width-vectorised kernel's weights ([tap][c_out]) and tap offsets in (ky, ci, kx) order, so
// the taps of one kernel row are adjacent: an output row near the top or bottom edge skips the
// kernel rows that read only padding (LeNet conv2's input gradient, padded by 4: 29% of its taps).
struct RowMajorTaps {
  std::vector<float> w;
  std::vector<int64_t> offsets;
};
RowMajorTaps pack_row_major_taps(const float* w, const PaddedConv& p);
// pad_h: the rows of padding above (and below) the input in xp.
void width_vectorised_image(const float* xp, const RowMajorTaps& taps, const float* bias, const PaddedConv& p,
                            int64_t pad_h, float* y);
void wide_row_image(const float* xp, const float* tap_w, const float* bias, const int64_t* offsets,
                    const PaddedConv& p, float* y, const float* addend);

}  // namespace stuckat::cpu::direct
#endif  // STUCKAT_SIMD
