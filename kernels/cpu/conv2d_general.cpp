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
// degenerate (K = kh*kw), so it runs direct loops instead: the forward as a vectorised 1-D
// correlation over zero-bordered "phase planes" of several channels of one image (see
// depthwise_forward), with row loops for planes too large for that; the backward per plane.
// Every work item owns its outputs, and the blocks are fixed by the shape, never by the thread
// count: each element is summed in the same order on any number of threads (OpenMP over items,
// BLAS single-threaded inside, kernels/cpu/gemm.h).
#include "kernels/cpu/conv2d_general.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/simd.h"
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

// --- one input channel per group, forward ---------------------------------------------------
//
// Write tap ky's row offset ky*dilation_h - pad_top as stride_h*ay + py (0 <= py < stride_h):
// output row oy then reads input row stride_h*(oy + ay) + py, i.e. row oy + ay - a_min of "phase
// plane" py (input rows py, py + stride_h, ... from row stride_h*a_min on); columns likewise (bx,
// px). Copied into phase planes with zero borders, row pitch `we` and the outputs at oy*we + ox,
// every tap becomes a constant shift: output q reads q + (ay - a_min)*we + (bx - b_min) of its
// phase plane. The planes of several channels of one image lie one after another (a "stack"), so
// the forward is a 1-D correlation over the stack in full vectors. Slots of two vectors or more
// are rounded up to whole vectors and take their weights broadcast: four vectors of one channel
// at a time, then each channel's last 1-3 vectors for several channels together (independent FMA
// chains); smaller slots read per-position copies of the weights. The positions in the border
// columns and slot ends are computed and dropped. The moves
// in and out of the stack follow tables built once per call (per position: the input element it
// holds, or zero; per output element: its stack position); with AVX-512 each vector of them is
// one permute of two loads (two permutes of four and a blend, or a gather, where its elements lie
// further apart). Work items are (image, block of channels), in an order fixed by the shape.
// Every output is the bias, then the taps in (ky, kx) order, as in the reference. Taps that read
// only padding for every output are left out (they add zeros); the others multiply the zero
// borders like the im2col path does.

namespace vec {
#ifdef STUCKAT_SIMD
using simd::kLanes;
using simd::vfloat;
using simd::vfmadd;
using simd::vload;
using simd::vset1;
using simd::vstore;
#else
using vfloat = float;
constexpr int64_t kLanes = 1;
inline vfloat vload(const float* p) { return *p; }
inline void vstore(float* p, vfloat v) { *p = v; }
inline vfloat vset1(float x) { return x; }
inline vfloat vfmadd(vfloat a, vfloat b, vfloat c) { return a * b + c; }
#endif
}  // namespace vec

// Stack positions per phase a work item aims for (several channels of small planes).
constexpr int64_t kStackPositions = 2048;
// Larger single planes than this (per phase) take the row loops below instead.
constexpr int64_t kMaxPlanePositions = 1 << 17;

inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }  // b > 0
inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

#if defined(__AVX512F__)
// 16 floats gathered from src[base + idx[i]] (lanes outside `lanes` read nothing and give 0):
// one permute of the two vectors at base when the elements span at most 32 floats, two permutes
// of four vectors and a blend when at most 64, else a gather.
struct VectorMove {
  int64_t base;
  int32_t idx[16];
  __mmask16 lanes, upper;  // upper: the lanes taken from the second pair of vectors
  __mmask16 read[4];       // the elements of src[base + 16 i, base + 16 (i + 1)) that are read
  int32_t kind;            // 2 or 4 vectors permuted, or 0: gathered
};

// From per-lane offsets (-1: zero), lanes [count, 16) zero.
VectorMove make_move(const int32_t* offsets, int64_t count) {
  VectorMove m{};
  int64_t first = -1, last = -1;
  for (int64_t i = 0; i < count; ++i)
    if (offsets[i] >= 0) {
      first = first < 0 ? offsets[i] : std::min<int64_t>(first, offsets[i]);
      last = std::max<int64_t>(last, offsets[i]);
    }
  m.base = std::max<int64_t>(first, 0);
  m.kind = last - m.base < 32 ? 2 : last - m.base < 64 ? 4 : 0;
  for (int64_t i = 0; i < count; ++i) {
    if (offsets[i] < 0) continue;
    const int64_t d = offsets[i] - m.base;
    m.idx[i] = static_cast<int32_t>(m.kind == 0 ? d : d % 32);  // vpermi2ps reads the index's low 5 bits
    m.lanes = static_cast<__mmask16>(m.lanes | (1u << i));
    if (m.kind == 0) continue;
    if (d >= 32) m.upper = static_cast<__mmask16>(m.upper | (1u << i));
    m.read[d / 16] = static_cast<__mmask16>(m.read[d / 16] | (1u << (d % 16)));
  }
  return m;
}

inline __m512 apply_move(const VectorMove& m, const float* src) {
  const __m512i idx = _mm512_loadu_si512(m.idx);
  const float* p = src + m.base;
  if (m.kind == 0) return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m.lanes, idx, p, 4);
  const __m512 low = _mm512_maskz_permutex2var_ps(m.lanes, _mm512_maskz_loadu_ps(m.read[0], p), idx,
                                                  _mm512_maskz_loadu_ps(m.read[1], p + 16));
  if (m.kind == 2) return low;
  const __m512 high = _mm512_maskz_permutex2var_ps(m.lanes, _mm512_maskz_loadu_ps(m.read[2], p + 32), idx,
                                                   _mm512_maskz_loadu_ps(m.read[3], p + 48));
  return _mm512_mask_blend_ps(m.upper, low, high);
}

std::vector<VectorMove> make_moves(const std::vector<int32_t>& offsets) {
  std::vector<VectorMove> moves;
  const int64_t total = static_cast<int64_t>(offsets.size());
  for (int64_t i = 0; i < total; i += 16)
    moves.push_back(make_move(offsets.data() + i, std::min<int64_t>(16, total - i)));
  return moves;
}
#endif

// kV vectors at stack offset q of each of kG channels (slot apart): out = bias + taps in order,
// in kG * kV independent FMA chains; channel g's weights are tap_w[g * taps + i], bias[g].
template <int64_t kG, int64_t kV>
inline void correlate_channels(const float* const* tap_src, const float* tap_w, const float* bias, int64_t taps,
                               int64_t slot, float* out, int64_t q) {
  using namespace vec;
  vfloat a[kG][kV];
  for (int64_t g = 0; g < kG; ++g)
    for (int64_t v = 0; v < kV; ++v) a[g][v] = vset1(bias[g]);
  for (int64_t i = 0; i < taps; ++i) {
    const float* p = tap_src[i] + q;
    for (int64_t g = 0; g < kG; ++g) {
      const vfloat wv = vset1(tap_w[g * taps + i]);
      for (int64_t v = 0; v < kV; ++v) a[g][v] = vfmadd(wv, vload(p + g * slot + v * kLanes), a[g][v]);
    }
  }
  for (int64_t g = 0; g < kG; ++g)
    for (int64_t v = 0; v < kV; ++v) vstore(out + q + g * slot + v * kLanes, a[g][v]);
}

// The last kV vectors (at offset q) of every channel, kG channels at a time.
template <int64_t kG, int64_t kV>
void correlate_tails(const float* const* tap_src, const float* tap_w, const float* bias, int64_t taps, int64_t slot,
                     int64_t channels, float* out, int64_t q) {
  int64_t j = 0;
  for (; j + kG <= channels; j += kG)
    correlate_channels<kG, kV>(tap_src, tap_w + j * taps, bias + j, taps, slot, out, j * slot + q);
  for (; j < channels; ++j) correlate_channels<1, kV>(tap_src, tap_w + j * taps, bias + j, taps, slot, out, j * slot + q);
}

struct DepthwisePlan {
  struct Tap {
    int64_t phase, offset, weight;  // phase plane, shift in it, index in the (kh, kw) filter
  };
  std::vector<Tap> taps;                         // those that read the image, in (ky, kx) order
  int64_t phases = 0;
  int64_t we = 1, slot = 1;                      // row pitch; positions per channel (>= (ho + extra rows) * we)
  bool aligned = false;                          // slot a multiple of kLanes: weights broadcast per channel
  int64_t channels = 1, stack = 1;              // per work item (one image): output channels, positions
  int64_t blocks = 1;                            // c_out / channels
  std::vector<int32_t> fill;                     // (phase, stack position): input offset or -1
  std::vector<int32_t> gather;                   // (channel, oy, ox) of the item: stack position
#if defined(__AVX512F__)
  std::vector<VectorMove> fill_moves, gather_moves;
#endif
};

// The plan for whole planes; false when one phase plane exceeds kMaxPlanePositions.
bool depthwise_plan(const ConvGeneralShape& s, DepthwisePlan& plan) {
  using vec::kLanes;
  const int64_t ho = s.h_out(), wo = s.w_out(), cog = s.c_out_group();
  // Does some output read the image through this tap offset (e = k*dilation - pad)?
  auto reads_image = [](int64_t e, int64_t stride, int64_t out, int64_t size) {
    const int64_t first = std::max<int64_t>(0, floor_div(-e + stride - 1, stride));  // stride*o + e >= 0
    const int64_t last = std::min(out - 1, floor_div(size - 1 - e, stride));         // stride*o + e <= size - 1
    return first <= last;
  };
  struct Kept {
    int64_t ay, py, bx, px, weight;
  };
  std::vector<Kept> kept;
  for (int64_t ky = 0; ky < s.kh; ++ky)
    for (int64_t kx = 0; kx < s.kw; ++kx) {
      const int64_t ey = ky * s.dilation_h - s.pad_top, ex = kx * s.dilation_w - s.pad_left;
      if (!reads_image(ey, s.stride_h, ho, s.h) || !reads_image(ex, s.stride_w, wo, s.w)) continue;
      const int64_t ay = floor_div(ey, s.stride_h), bx = floor_div(ex, s.stride_w);
      kept.push_back({ay, ey - ay * s.stride_h, bx, ex - bx * s.stride_w, ky * s.kw + kx});
    }
  int64_t a_min = 0, a_max = 0, b_min = 0, b_max = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    const Kept& k = kept[i];
    a_min = i == 0 ? k.ay : std::min(a_min, k.ay), a_max = i == 0 ? k.ay : std::max(a_max, k.ay);
    b_min = i == 0 ? k.bx : std::min(b_min, k.bx), b_max = i == 0 ? k.bx : std::max(b_max, k.bx);
  }
  plan.we = wo + b_max - b_min;
  const int64_t rows = ho + a_max - a_min;  // phase plane rows
  std::vector<int64_t> phase_y, phase_x;
  for (const Kept& k : kept) {
    int64_t phase = 0;
    while (phase < static_cast<int64_t>(phase_y.size()) &&
           (phase_y[static_cast<size_t>(phase)] != k.py || phase_x[static_cast<size_t>(phase)] != k.px))
      ++phase;
    if (phase == static_cast<int64_t>(phase_y.size())) phase_y.push_back(k.py), phase_x.push_back(k.px);
    plan.taps.push_back({phase, (k.ay - a_min) * plan.we + (k.bx - b_min), k.weight});
  }
  plan.phases = static_cast<int64_t>(phase_y.size());
  plan.slot = rows * plan.we;
  if (plan.slot > kMaxPlanePositions) return false;
  if (plan.slot >= 2 * kLanes) plan.slot = round_up(plan.slot, kLanes);  // at most half a vector per slot more
  plan.aligned = plan.slot % kLanes == 0;
  // Channels per item: a divisor of c_out, 1 or a multiple of c_out/groups (so the item's input
  // channels start at the same relative place in every item), filling kStackPositions at most.
  for (int64_t d = 1; d <= s.c_out; ++d)
    if (s.c_out % d == 0 && (d == 1 || d % cog == 0) && d * plan.slot <= kStackPositions) plan.channels = d;
  plan.stack = plan.channels * plan.slot;
  plan.blocks = s.c_out / plan.channels;
  if (plan.channels * s.h * s.w > (int64_t{1} << 30)) return false;  // offsets must fit int32

  // Phase k, stack position q = j*slot + r*we + c: input channel j/cog of the item, row
  // stride_h*(r + a_min) + py, column stride_w*(c + b_min) + px.
  const int64_t fill_size = round_up(plan.stack, 16);
  plan.fill.assign(static_cast<size_t>(plan.phases * fill_size), -1);
  for (int64_t k = 0; k < plan.phases; ++k)
    for (int64_t j = 0; j < plan.channels; ++j)
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t iy = s.stride_h * (r + a_min) + phase_y[static_cast<size_t>(k)];
        if (iy < 0 || iy >= s.h) continue;
        for (int64_t c = 0; c < plan.we; ++c) {
          const int64_t ix = s.stride_w * (c + b_min) + phase_x[static_cast<size_t>(k)];
          if (ix < 0 || ix >= s.w) continue;
          plan.fill[static_cast<size_t>(k * fill_size + j * plan.slot + r * plan.we + c)] =
              static_cast<int32_t>(((j / cog) * s.h + iy) * s.w + ix);
        }
      }
  plan.gather.resize(static_cast<size_t>(plan.channels * ho * wo));
  for (int64_t j = 0; j < plan.channels; ++j)
    for (int64_t oy = 0; oy < ho; ++oy)
      for (int64_t ox = 0; ox < wo; ++ox)
        plan.gather[static_cast<size_t>((j * ho + oy) * wo + ox)] =
            static_cast<int32_t>(j * plan.slot + oy * plan.we + ox);
#if defined(__AVX512F__)
  plan.fill_moves = make_moves(plan.fill);
  plan.gather_moves = make_moves(plan.gather);
#endif
  return true;
}

// Direct loops per output row: the forward of planes too large for a stack.
void depthwise_forward_rows(const float* x, const float* w, const float* b, float* y, const ConvGeneralShape& s) {
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

void depthwise_forward(const float* x, const float* w, const float* b, float* y, const ConvGeneralShape& s) {
  using namespace vec;
  DepthwisePlan plan;
  if (!depthwise_plan(s, plan)) {
    depthwise_forward_rows(x, w, b, y, s);
    return;
  }
  const int64_t ho = s.h_out(), wo = s.w_out(), cog = s.c_out_group(), kk = s.kh * s.kw;
  const int64_t taps = static_cast<int64_t>(plan.taps.size()), slot = plan.slot, channels = plan.channels;
  const int64_t fill_size = round_up(plan.stack, 16);
  const int64_t span = round_up(plan.stack + slot, 16) + 4 * kLanes;  // floats per phase plane, with slack
  const int64_t region = channels * ho * wo;                          // the item's outputs, contiguous in y
  // Positions to compute: all the item's outputs, in whole vectors (per channel when aligned).
  const int64_t per_channel = round_up((ho - 1) * plan.we + wo, kLanes);
  const int64_t used = round_up((channels - 1) * slot + (ho - 1) * plan.we + wo, kLanes);
#pragma omp parallel
  {
    thread_local std::vector<float> phase_buffer, out_buffer, weight_buffer;
    float* planes = grow_workspace(phase_buffer, std::max<int64_t>(1, plan.phases) * span);
    float* out = grow_workspace(out_buffer, span);
    float* weights = plan.aligned ? nullptr : grow_workspace(weight_buffer, (taps + 1) * span);
    // The slack past each stack stays zero (vectors near the end read it, into dropped outputs).
    std::memset(planes, 0, static_cast<size_t>(std::max<int64_t>(1, plan.phases) * span) * sizeof(float));
    std::vector<const float*> tap_src(static_cast<size_t>(taps));
    for (int64_t i = 0; i < taps; ++i) {
      const DepthwisePlan::Tap& tap = plan.taps[static_cast<size_t>(i)];
      tap_src[static_cast<size_t>(i)] = planes + tap.phase * span + tap.offset;
    }
    std::vector<float> tap_w(static_cast<size_t>(channels * taps)), tap_b(static_cast<size_t>(channels));
    int64_t weights_block = -1;  // the block whose weights `weights` holds
    // Items in (image, block) order, through memory; with per-position weights in (block, image)
    // order, so that a thread's items share the block's weights.
#pragma omp for schedule(static)
    for (int64_t item = 0; item < plan.blocks * s.n; ++item) {
      const int64_t block = plan.aligned ? item % plan.blocks : item / s.n;
      const int64_t n = plan.aligned ? item / plan.blocks : item % s.n;
      const int64_t co0 = block * channels, ci0 = co0 / cog;
      if (!plan.aligned && block != weights_block) {  // per-position weights: taps, then the bias
        for (int64_t i = 0; i <= taps; ++i)
          for (int64_t j = 0; j < channels; ++j) {
            const int64_t co = co0 + j;
            const float value = i < taps ? w[co * kk + plan.taps[static_cast<size_t>(i)].weight] : b ? b[co] : 0.0f;
            float* row = weights + i * span + j * slot;
            std::fill(row, row + (j == channels - 1 ? span - j * slot : slot), value);
          }
        weights_block = block;
      }
      const float* xr = x + (n * s.c_in + ci0) * s.h * s.w;
      float* yr = y + (n * s.c_out + co0) * ho * wo;
      // The phase planes of the item's channels.
#if defined(__AVX512F__)
      for (int64_t k = 0; k < plan.phases; ++k) {
        const VectorMove* moves = plan.fill_moves.data() + k * fill_size / 16;
        for (int64_t v = 0; v < fill_size / 16; ++v)
          _mm512_storeu_ps(planes + k * span + 16 * v, apply_move(moves[v], xr));
      }
#else
      for (int64_t k = 0; k < plan.phases; ++k)
        for (int64_t q = 0; q < fill_size; ++q) {
          const int32_t from = plan.fill[static_cast<size_t>(k * fill_size + q)];
          planes[k * span + q] = from >= 0 ? xr[from] : 0.0f;
        }
#endif
      // The correlation, four vectors at a time where it can (independent FMA chains).
      if (plan.aligned) {  // per channel, its weights broadcast
        for (int64_t j = 0; j < channels; ++j) {
          for (int64_t i = 0; i < taps; ++i)
            tap_w[static_cast<size_t>(j * taps + i)] = w[(co0 + j) * kk + plan.taps[static_cast<size_t>(i)].weight];
          tap_b[static_cast<size_t>(j)] = b ? b[co0 + j] : 0.0f;
        }
        // Whole blocks of four vectors per channel, then the last 1-3 vectors of several channels.
        const int64_t blocked = per_channel / (4 * kLanes) * (4 * kLanes);
        for (int64_t j = 0; j < channels && blocked > 0; ++j) {
          const float* wj = tap_w.data() + j * taps;
          const vfloat bias = vset1(tap_b[static_cast<size_t>(j)]);
          for (int64_t q = j * slot; q < j * slot + blocked; q += 4 * kLanes) {
            vfloat a0 = bias, a1 = bias, a2 = bias, a3 = bias;
            for (int64_t i = 0; i < taps; ++i) {
              const vfloat wv = vset1(wj[i]);
              const float* p = tap_src[static_cast<size_t>(i)] + q;
              a0 = vfmadd(wv, vload(p), a0);
              a1 = vfmadd(wv, vload(p + kLanes), a1);
              a2 = vfmadd(wv, vload(p + 2 * kLanes), a2);
              a3 = vfmadd(wv, vload(p + 3 * kLanes), a3);
            }
            vstore(out + q, a0), vstore(out + q + kLanes, a1);
            vstore(out + q + 2 * kLanes, a2), vstore(out + q + 3 * kLanes, a3);
          }
        }
        const float* const* src = tap_src.data();
        switch ((per_channel - blocked) / kLanes) {
          case 1:
            correlate_tails<8, 1>(src, tap_w.data(), tap_b.data(), taps, slot, channels, out, blocked);
            break;
          case 2:
            correlate_tails<4, 2>(src, tap_w.data(), tap_b.data(), taps, slot, channels, out, blocked);
            break;
          case 3:
            correlate_tails<2, 3>(src, tap_w.data(), tap_b.data(), taps, slot, channels, out, blocked);
            break;
          default:
            break;
        }
      } else {  // the whole stack, with per-position weights
        const float* bias = weights + taps * span;
        int64_t q = 0;
        for (; q + 4 * kLanes <= used; q += 4 * kLanes) {
          vfloat a0 = vload(bias + q), a1 = vload(bias + q + kLanes);
          vfloat a2 = vload(bias + q + 2 * kLanes), a3 = vload(bias + q + 3 * kLanes);
          for (int64_t i = 0; i < taps; ++i) {
            const float* wp = weights + i * span + q;
            const float* p = tap_src[static_cast<size_t>(i)] + q;
            a0 = vfmadd(vload(wp), vload(p), a0);
            a1 = vfmadd(vload(wp + kLanes), vload(p + kLanes), a1);
            a2 = vfmadd(vload(wp + 2 * kLanes), vload(p + 2 * kLanes), a2);
            a3 = vfmadd(vload(wp + 3 * kLanes), vload(p + 3 * kLanes), a3);
          }
          vstore(out + q, a0), vstore(out + q + kLanes, a1);
          vstore(out + q + 2 * kLanes, a2), vstore(out + q + 3 * kLanes, a3);
        }
        for (; q < used; q += kLanes) {
          vfloat a = vload(bias + q);
          for (int64_t i = 0; i < taps; ++i)
            a = vfmadd(vload(weights + i * span + q), vload(tap_src[static_cast<size_t>(i)] + q), a);
          vstore(out + q, a);
        }
      }
      // The item's outputs to y.
#if defined(__AVX512F__)
      for (int64_t v = 0; v * 16 < region; ++v)
        simd::vstore_count(yr + 16 * v, region - 16 * v, apply_move(plan.gather_moves[static_cast<size_t>(v)], out));
#else
      for (int64_t i = 0; i < region; ++i) yr[i] = out[plan.gather[static_cast<size_t>(i)]];
#endif
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
