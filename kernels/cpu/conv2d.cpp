// Fast float conv2d. 3x3 stride-1 layers with whole vectors of channels (VGG, ResNet) take
// Winograd tiles (conv2d_winograd.h): F(4x4, 3x3) for the forward and input gradient where it
// needs fewer products (planes of 3x3, 4x4 and from 7x7 up), else F(2x2, 3x3), which also does
// the weight gradient. With AVX-512 or AVX2
// most other shapes take the direct kernels of conv2d_direct.h:
// forward and the input gradient (stride 1) on zero-padded planes, the weight gradient either per
// thread in registers (LeNet-sized layers) or in register tiles over the whole batch's pixels
// (deeper ones, conv2d_weight_tiles.cpp). Everything else (neither ISA, strides the kernels lack)
// is im2col + a GEMM per image (small_gemm.h: AVX-512 micro-kernels, BLIS for large layers and
// without AVX-512), OpenMP over the batch with BLAS single-threaded inside (gemm.h). Per image:
//   forward   y_n (c_out, P)  = W (c_out, K) * col_n (K, P) + b          K = c_in*kh*kw, P = h_out*w_out
//   backward  dW  (c_out, K) += dy_n (c_out, P) * col_n^T   (images with few pixels: per block of
//                                                              images, their columns side by side)
//             dcol (K, P)     = W^T * dy_n, then col2im -> dx_n
// There dW and db are summed in one partial buffer per thread and reduced in thread order, so a run
// is bit-reproducible for a fixed thread count. 1x1 / stride 1 / pad 0 convs skip the lowering.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/conv2d_winograd.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/small_gemm.h"

namespace stuckat::cpu {
namespace {

bool is_pointwise(const Conv2dShape& s) { return s.kh == 1 && s.kw == 1 && s.stride == 1 && s.pad == 0; }

// dW's GEMMs take images in blocks of at least this many output pixels (backward, below).
constexpr int64_t kBlockPixels = 256;

// A 1x1 conv over planes this small (the late layers of mobile networks at 32x32 inputs: 4x4, 2x2,
// 1x1 pixels) is, per image, a GEMM too thin to run well: forward takes the whole batch's pixels
// side by side instead, as one GEMM of c_out rows by n*p columns. The columns are packed in panels
// of kPanel (the micro-kernel's width, small_gemm.cpp), each panel's k x kPanel block contiguous,
// and the output is written panel by panel too: with the columns left at a row stride of n*p
// floats (a multiple of 4 KiB at batch 256) every row of a panel fell in the same few L1 sets and
// the kernel ran at a third of its speed. Every output is still one dot product over the input
// channels in the kernel's order, whatever the thread count.
constexpr int64_t kSmallPlane = 64;
constexpr int64_t kPanel = 32;
constexpr int64_t kRowChunk = 64;
constexpr int64_t kPanelsPerJob = 8;

void pointwise_forward_batched(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s,
                               const float* addend) {
  const int64_t p = s.h_out() * s.w_out(), cols = s.n * p, k = s.c_in, m = s.c_out;
  const int64_t panels = (cols + kPanel - 1) / kPanel;
  thread_local std::vector<float> packed_buffer, out_buffer;  // the calling thread's, shared by the team
  float* packed = grow_workspace(packed_buffer, panels * k * kPanel);
  float* out = grow_workspace(out_buffer, panels * m * kPanel);
  const int64_t groups = (panels + kPanelsPerJob - 1) / kPanelsPerJob, chunks = (m + kRowChunk - 1) / kRowChunk;
  // Column j is pixel j % p of image j / p; row `row` of it sits in panel j / kPanel at lane
  // j % kPanel. A panel's columns start in image j0 / p: lane c reads x at (image - first image)
  // * k * p + pixel + row * p, and writes y at the same place with m rows per image.
  auto lane_offsets = [p, cols](int64_t g, int64_t rows, int32_t* offsets) {
    const int64_t j0 = g * kPanel, first = j0 / p;
    int64_t lanes = 0;
    for (int64_t j = j0; j < std::min(cols, j0 + kPanel); ++j, ++lanes)
      offsets[lanes] = static_cast<int32_t>((j / p - first) * rows * p + j % p);
    return lanes;
  };
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t g = 0; g < panels; ++g) {
      int32_t offsets[kPanel];
      const int64_t lanes = lane_offsets(g, k, offsets);
      const float* src = x + g * kPanel / p * k * p;
      float* dst = packed + g * k * kPanel;
      for (int64_t ci = 0; ci < k; ++ci, src += p, dst += kPanel) {
        for (int64_t c = 0; c < lanes; ++c) dst[c] = src[offsets[c]];
        for (int64_t c = lanes; c < kPanel; ++c) dst[c] = 0.0f;  // the last panel's unused lanes
      }
    }
#pragma omp for schedule(static)
    for (int64_t job = 0; job < groups * chunks; ++job) {
      const int64_t g0 = job / chunks * kPanelsPerJob, r0 = job % chunks * kRowChunk;
      const int64_t g1 = std::min(panels, g0 + kPanelsPerJob), nr = std::min(kRowChunk, m - r0);
      for (int64_t g = g0; g < g1; ++g) {
        float* o = out + (g * m + r0) * kPanel;
        if (b)
          for (int64_t r = 0; r < nr; ++r)
            for (int64_t c = 0; c < kPanel; ++c) o[r * kPanel + c] = b[r0 + r];
        gemm_strided_a(nr, kPanel, k, w + r0 * k, k, 1, packed + g * k * kPanel, kPanel, o, kPanel, b != nullptr);
      }
    }
#pragma omp for schedule(static)
    for (int64_t g = 0; g < panels; ++g) {
      int32_t offsets[kPanel];
      const int64_t lanes = lane_offsets(g, m, offsets), start = g * kPanel / p * m * p;
      const float* src = out + g * m * kPanel;
      float* dst = y + start;
      const float* an = addend ? addend + start : nullptr;
      for (int64_t co = 0; co < m; ++co, src += kPanel, dst += p) {
        if (an) {
          for (int64_t c = 0; c < lanes; ++c) dst[offsets[c]] = an[offsets[c]] + src[c];
          an += p;
        } else {
          for (int64_t c = 0; c < lanes; ++c) dst[offsets[c]] = src[c];
        }
      }
    }
  }
}

}  // namespace

void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s) {
  conv2d_forward(x, w, b, y, s, nullptr);
}

void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s,
                    const float* addend) {
  ensure_single_threaded_blas();
  const int64_t k = s.c_in * s.kh * s.kw, p = s.h_out() * s.w_out();
  const bool pointwise = is_pointwise(s);
  if (conv2d_forward_winograd(x, w, b, y, s, addend)) return;
  // A 1x1 conv is already a plain GEMM, which the GEMM kernels block better than the direct ones.
  if (!pointwise && conv2d_forward_direct(x, w, b, y, s, addend)) return;
  if (pointwise && p < kSmallPlane && s.n > 1) return pointwise_forward_batched(x, w, b, y, s, addend);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < s.n; ++n) {
    thread_local std::vector<float> col_buffer;
    const float* xn = x + n * s.c_in * s.h * s.w;
    const float* col = xn;
    if (!pointwise) {
      float* lowered = grow_workspace(col_buffer, k * p);
      im2col(xn, lowered, s);
      col = lowered;
    }
    float* yn = y + n * s.c_out * p;
    if (b)  // start from the bias and let the GEMM accumulate onto it
      for (int64_t co = 0; co < s.c_out; ++co)
        for (int64_t i = 0; i < p; ++i) yn[co * p + i] = b[co];
    gemm_strided_a(s.c_out, p, k, w, k, 1, col, p, yn, p, b != nullptr);
    if (addend) {
      const float* an = addend + n * s.c_out * p;
      for (int64_t i = 0; i < s.c_out * p; ++i) yn[i] = an[i] + yn[i];
    }
  }
}

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dShape& s) {
  ensure_single_threaded_blas();
  const int64_t k = s.c_in * s.kh * s.kw, p = s.h_out() * s.w_out();
  const int64_t dw_size = s.c_out * k, partial_size = dw_size + s.c_out;  // dW then db
  const bool pointwise = is_pointwise(s);
  // Winograd, then the direct kernels, cover most layers; whatever they did not do, the loop below does.
  const bool dx_done =
      dx && !pointwise && (conv2d_backward_dx_winograd(w, dy, dx, s) || conv2d_backward_dx_direct(w, dy, dx, s));
  const bool weights_done = conv2d_backward_weights_winograd(x, dy, dw, db, s) ||
                            (!pointwise && conv2d_backward_weights_direct(x, dy, dw, db, s)) ||
                            conv2d_backward_weights_tiled(x, dy, dw, db, s);
  if (weights_done && (dx_done || !dx)) return;
  const int threads = omp_get_max_threads();
  thread_local std::vector<float> partial_buffer;  // the calling thread's, shared by the team
  float* partials = grow_workspace(partial_buffer, threads * partial_size);

#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int team = omp_get_num_threads();
    float* dw_part = partials + t * partial_size;
    float* db_part = dw_part + dw_size;
    std::memset(dw_part, 0, static_cast<size_t>(partial_size) * sizeof(float));
    thread_local std::vector<float> col_buffer, dcol_buffer;

    // Each thread its share of the batch. dW sums one GEMM per block of images: with few pixels an
    // image (deep layers: 64, 16, 4) a GEMM per image would have an inner dimension that short,
    // so the images of a block go side by side (their columns and dy rows concatenated).
    const Range mine = split_range(s.n, team, t);
    const int64_t block = std::max<int64_t>(1, std::min(mine.end - mine.begin, (kBlockPixels + p - 1) / p));
    thread_local std::vector<float> cols_buffer, dys_buffer;
    for (int64_t n0 = mine.begin; n0 < mine.end; n0 += block) {
      const int64_t images = std::min(block, mine.end - n0), wide = images * p;
      const bool blocked = images > 1 && !weights_done;
      float* cols = blocked ? grow_workspace(cols_buffer, k * wide) : nullptr;
      float* dys = blocked ? grow_workspace(dys_buffer, s.c_out * wide) : nullptr;
      for (int64_t n = n0; n < n0 + images && !weights_done; ++n) {
        const float* xn = x + n * s.c_in * s.h * s.w;
        const float* dyn = dy + n * s.c_out * p;
        const float* col = xn;
        if (!pointwise) {
          float* lowered = grow_workspace(col_buffer, k * p);
          im2col(xn, lowered, s);
          col = lowered;
        }
        if (!blocked) {
          gemm_dot_rows(s.c_out, k, p, dyn, p, col, p, dw_part, k, true);
        } else {  // image n's columns and dy rows at column (n - n0) * p of the block's
          const int64_t at = (n - n0) * p;
          for (int64_t r = 0; r < k; ++r)
            std::memcpy(cols + r * wide + at, col + r * p, static_cast<size_t>(p) * sizeof(float));
          for (int64_t co = 0; co < s.c_out; ++co)
            std::memcpy(dys + co * wide + at, dyn + co * p, static_cast<size_t>(p) * sizeof(float));
        }
        if (db)
          for (int64_t co = 0; co < s.c_out; ++co) {
            float sum = 0.0f;
            for (int64_t i = 0; i < p; ++i) sum += dyn[co * p + i];
            db_part[co] += sum;
          }
      }
      if (blocked) gemm_dot_rows(s.c_out, k, wide, dys, wide, cols, wide, dw_part, k, true);
      for (int64_t n = n0; n < n0 + images && dx && !dx_done; ++n) {
        const float* dyn = dy + n * s.c_out * p;
        float* dxn = dx + n * s.c_in * s.h * s.w;
        float* dcol = pointwise ? dxn : grow_workspace(dcol_buffer, k * p);
        gemm_strided_a(k, p, s.c_out, w, 1, k, dyn, p, dcol, p, false);  // W^T: A(i, c) = w[c * k + i]
        if (!pointwise) col2im(dcol, dxn, s);
      }
    }
#pragma omp barrier  // every partial is complete before the reduction

    // Reduce in thread order 0, 1, ... (fixed for a fixed team size), split by element.
#pragma omp for schedule(static)
    for (int64_t i = 0; i < partial_size; ++i) {
      if (weights_done || (i >= dw_size && !db)) continue;
      float sum = 0.0f;
      for (int u = 0; u < team; ++u) sum += partials[u * partial_size + i];
      if (i < dw_size)
        dw[i] = sum;
      else
        db[i - dw_size] = sum;
    }
  }
}

}  // namespace stuckat::cpu
