// The direct convolution's channel kernels (conv2d_direct.cpp describes the three families): one
// vector of kLanes output channels per pixel, and groups of 2 to 4 such vectors over runs of
// pixels across rows and images.
#include "kernels/cpu/conv2d_direct_kernels.h"

#ifdef STUCKAT_SIMD
#include <array>
#include <cstring>
#include <utility>

namespace stuckat::cpu::direct {

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

}  // namespace stuckat::cpu::direct
#endif  // STUCKAT_SIMD
