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
// element is the bias plus its taps in a fixed order, whichever thread count: ascending (less, on
// small planes, the taps that read padding), or for the width-vectorised kernel kernel row by
// kernel row (less the rows that read only padding).
// The families live in conv2d_direct_channels.cpp and conv2d_direct_rows.cpp, this file holds the
// driver that picks one per layer shape and the weight-gradient kernels (vectorised over the
// output width; with 16 registers over wide rows, image by image; or over exactly kLanes output
// channels with 3x3 / 5x5 taps held in registers).
// The fixed-count loops over accumulators carry `#pragma GCC unroll`: without it GCC 12 at -O3
// keeps the accumulator arrays on the stack and stores them back on every iteration (-O2 does
// not), which costs the weight-gradient kernel 4x.
#include "kernels/cpu/conv2d_direct.h"

#include <cstring>

#include "kernels/cpu/conv2d_direct_kernels.h"
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

using namespace direct;

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
      by_width ? std::vector<float>()
      : wide_rows ? pack_tap_major(plain, p.c_out, taps) : pack_channel_major(plain, p.c_out, taps);
  const RowMajorTaps row_taps = by_width ? pack_row_major_taps(plain, p) : RowMajorTaps{};
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
      width_vectorised_image(xp, row_taps, b, p, pad_h, yi);
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

// Wide rows (16-register CPUs; conv2d_direct_rows.cpp describes the layout): with dy copied into
// rows wp apart, zero past each row's wo outputs ("dyw", whole vectors), tap t's products over an
// image are dyw[co][q] * xp[offset(t) + q] for one contiguous run of positions q, so a register
// tile of G channels x T taps costs per vector T unaligned input loads and G dyw loads, no row
// ends inside the vectors. A whole image (its padded planes and dyw) stays in L1 while every tile
// passes over it; the tiles' sums carry over from image to image in `sums` ([tile][g][t] vectors).
// The last vector's input loads are masked to the span, so nothing past the image is read.
template <int G, int T>
inline void wide_weight_step(const float* x, const float* d, int64_t dyw_stride, LaneMask mask, bool masked,
                             const int64_t (&o)[T], vfloat (&acc)[G * T]) {
  vfloat xv[T];
  #pragma GCC unroll 32
  for (int t = 0; t < T; ++t) xv[t] = masked ? vload_first(mask, x + o[t]) : vload(x + o[t]);
  #pragma GCC unroll 32
  for (int g = 0; g < G; ++g) {
    const vfloat dv = vload(d + g * dyw_stride);
    #pragma GCC unroll 32
    for (int t = 0; t < T; ++t) acc[g * T + t] = vfmadd(dv, xv[t], acc[g * T + t]);
  }
}

template <int G, int T>
void wide_weight_block(const float* xp, const float* dyw, int64_t dyw_stride, int64_t vectors, int64_t tail,
                       const int64_t* offsets, float* sums) {
  vfloat acc[G * T];
  #pragma GCC unroll 32
  for (int a = 0; a < G * T; ++a) acc[a] = vload(sums + a * kLanes);
  int64_t o[T];
  #pragma GCC unroll 32
  for (int t = 0; t < T; ++t) o[t] = offsets[t];
  const LaneMask none = first_lanes(0);
  for (int64_t v = 0; v + 1 < vectors; ++v)
    wide_weight_step<G, T>(xp + v * kLanes, dyw + v * kLanes, dyw_stride, none, false, o, acc);
  const int64_t v = vectors - 1;
  wide_weight_step<G, T>(xp + v * kLanes, dyw + v * kLanes, dyw_stride, first_lanes(tail), true, o, acc);
  #pragma GCC unroll 32
  for (int a = 0; a < G * T; ++a) vstore(sums + a * kLanes, acc[a]);
}

constexpr int kWideWeightChannels = 2, kWideWeightTaps = 5;  // 10 accumulators + 5 inputs + 1 dyw
using WideWeightBlock = void (*)(const float*, const float*, int64_t, int64_t, int64_t, const int64_t*, float*);
template <int G, int... T>
constexpr std::array<WideWeightBlock, sizeof...(T)> wide_weight_blocks_for(std::integer_sequence<int, T...>) {
  return {wide_weight_block<G, T + 1>...};
}
template <int... G>
constexpr std::array<std::array<WideWeightBlock, kWideWeightTaps>, sizeof...(G)> wide_weight_blocks(
    std::integer_sequence<int, G...>) {
  return {wide_weight_blocks_for<G + 1>(std::make_integer_sequence<int, kWideWeightTaps>())...};
}
const auto kWideWeightBlocks = wide_weight_blocks(std::make_integer_sequence<int, kWideWeightChannels>());
// Past this many vectors of sums (c_out * taps of them) a thread's sums leave L1.
constexpr int64_t kMaxWideWeightSums = 2048;

// A thread's images [0, images) into dw_part (c_out x taps) by wide rows.
void wide_weight_images(const float* xp, int64_t x_image, const float* dy, int64_t dy_image, int64_t images,
                        const PaddedConv& p, float* dw_part) {
  const int64_t span = (p.ho - 1) * p.wp + p.wo, vectors = (span + kLanes - 1) / kLanes, stride = vectors * kLanes;
  const int64_t taps = p.taps();
  const int64_t tail = span - (vectors - 1) * kLanes;  // positions in the last vector
  const std::vector<int64_t> offsets = tap_offsets(p);
  thread_local std::vector<float> dyw_buffer, sum_buffer;
  float* dyw = grow_workspace(dyw_buffer, p.c_out * stride);
  float* sums = grow_workspace(sum_buffer, p.c_out * taps * kLanes);
  std::fill(dyw, dyw + p.c_out * stride, 0.0f);  // the gaps past each row stay zero
  std::fill(sums, sums + p.c_out * taps * kLanes, 0.0f);
  for (int64_t i = 0; i < images; ++i) {
    for (int64_t co = 0; co < p.c_out; ++co)
      for (int64_t oy = 0; oy < p.ho; ++oy)
        std::memcpy(dyw + co * stride + oy * p.wp, dy + i * dy_image + (co * p.ho + oy) * p.wo,
                    static_cast<size_t>(p.wo) * sizeof(float));
    const float* xi = xp + i * x_image;
    for (int64_t co = 0; co < p.c_out; co += kWideWeightChannels) {
      const int64_t g = std::min<int64_t>(kWideWeightChannels, p.c_out - co);
      for (int64_t t0 = 0; t0 < taps; t0 += kWideWeightTaps) {
        const int64_t t = std::min<int64_t>(kWideWeightTaps, taps - t0);
        kWideWeightBlocks[static_cast<size_t>(g - 1)][static_cast<size_t>(t - 1)](
            xi, dyw + co * stride, stride, vectors, tail, offsets.data() + t0, sums + (co * taps + t0 * g) * kLanes);
      }
    }
  }
  for (int64_t co = 0; co < p.c_out; co += kWideWeightChannels) {
    const int64_t g = std::min<int64_t>(kWideWeightChannels, p.c_out - co);
    for (int64_t t0 = 0; t0 < taps; t0 += kWideWeightTaps) {
      const int64_t t = std::min<int64_t>(kWideWeightTaps, taps - t0);
      const float* block = sums + (co * taps + t0 * g) * kLanes;  // [g][t] vectors
      for (int64_t a = 0; a < g; ++a)
        for (int64_t b = 0; b < t; ++b) dw_part[(co + a) * taps + t0 + b] = lane_sum(vload(block + (a * t + b) * kLanes));
    }
  }
}

// Layers of exactly kLanes output channels (LeNet conv2: 16 channels over 10x10 outputs, where a
// vector of output pixels would hold 10 useful lanes of 16), on CPUs with 32 vector registers:
// one vector holds the kLanes channels' gradient of one tap, so the kh*kw taps of one input
// channel stay in registers; per output pixel, one load of dy's channels (dy transposed to pixel
// by pixel first) feeds kh*kw FMAs, each with a broadcast input value. The tiled kernel
// (conv2d_weight_tiles.cpp) computes the same sums; widened to one vector x 19-24 taps and given
// this shape, it made LeNet-5 training 4.5% slower (task-clock 3190-3219 -> 3333-3381 ms).
template <int KH, int KW>
void channel_weight_block(const float* xp, int64_t x_image, const float* dyt, int64_t images, const PaddedConv& p,
                          int64_t ci, float* dw) {
  constexpr int kTaps = KH * KW;
  vfloat acc[kTaps];
  #pragma GCC unroll 32
  for (int t = 0; t < kTaps; ++t) acc[t] = vzero();
  const int64_t plane = p.ho * p.wo;
  for (int64_t i = 0; i < images; ++i) {
    const float* x_plane = xp + i * x_image + ci * p.hp * p.wp;
    const float* d = dyt + i * plane * kLanes;
    for (int64_t oy = 0; oy < p.ho; ++oy)
      for (int64_t ox = 0; ox < p.wo; ++ox, d += kLanes) {
        const vfloat dv = vload(d);
        const float* xr = x_plane + oy * p.wp + ox;
        #pragma GCC unroll 32
        for (int t = 0; t < kTaps; ++t) acc[t] = vfmadd(dv, vset1(xr[(t / KW) * p.wp + t % KW]), acc[t]);
      }
  }
  const int64_t taps = p.c_in * kTaps;
  alignas(64) float lanes[kLanes];
  #pragma GCC unroll 32
  for (int t = 0; t < kTaps; ++t) {
    vstore(lanes, acc[t]);
    for (int64_t co = 0; co < kLanes; ++co) dw[co * taps + ci * kTaps + t] = lanes[co];
  }
}

// Whether channel_weight_block serves a stride-1 layer.
bool channel_weight_gradient_fits(const Conv2dShape& s) {
  return kVectorRegisters >= 32 && s.c_out == kLanes && s.kh == s.kw && (s.kw == 5 || s.kw == 3);
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
  const bool by_channel = channel_weight_gradient_fits(s);
  // 16-register CPUs: channels that fill the lanes better than the output width does (LeNet
  // conv2: 16 channels against 10-pixel rows) go to the channel-vectorised tiles of
  // conv2d_backward_weights_tiled (batch 64, 2 threads, AMD EPYC: 1.2-1.4 -> 0.24-0.45 ms); the
  // others take wide rows while their sums stay in L1 (LeNet conv1: 0.44-0.47 -> 0.24-0.37 ms).
  if (kWideRows && lane_use(s.c_out) > lane_use(p.wo)) return false;
  const bool wide = kWideRows && s.c_out * p.taps() <= kMaxWideWeightSums;
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
    const int64_t plane = p.ho * p.wo;
    if (by_channel) {
      thread_local std::vector<float> dyt_buffer;  // this thread's dy, pixel by pixel: [image][pixel][channel]
      float* dyt = grow_workspace(dyt_buffer, images * plane * kLanes);
      for (int64_t i = 0; i < images; ++i)
        for (int64_t co = 0; co < kLanes; ++co)
          for (int64_t q = 0; q < plane; ++q) dyt[(i * plane + q) * kLanes + co] = dy_mine[i * dy_image + co * plane + q];
      for (int64_t ci = 0; ci < s.c_in; ++ci) {
        if (s.kw == 5) channel_weight_block<5, 5>(xp, x_image, dyt, images, p, ci, dw_part);
        else channel_weight_block<3, 3>(xp, x_image, dyt, images, p, ci, dw_part);
      }
    } else if (wide) {
      wide_weight_images(xp, x_image, dy_mine, dy_image, images, p, dw_part);
    } else {
      for (int64_t ci = 0; ci < s.c_in; ++ci)
        for (int64_t ky = 0; ky < s.kh; ++ky)
          for (int64_t co = 0; co < s.c_out; co += group) {
            const int64_t channels = std::min<int64_t>(group, s.c_out - co);
            blocks[static_cast<size_t>(channels - 1)](xp, x_image, dy_mine, dy_image, images, p, ci, ky, co, dw_part);
          }
    }
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
