// Strided copies on the GPU: one kernel, dst[sum i_d * dst_strides[d]] = src[sum i_d *
// src_strides[d]], one thread per element (grid-stride), with sizes and strides passed by value
// in a struct of at most 8 dimensions; plus a fill. concat, transpose and pad are host code
// choosing the strides, as in kernels/cpu/tensor_copy.cpp.
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/tensor_copy.h"

#include <algorithm>

namespace stuckat::cuda {
namespace {

constexpr int kMaxRank = 8;
constexpr int64_t kMaxBlocks = 65535;

unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>(grid_for(n), kMaxBlocks)); }

struct CopyDims {
  int rank = 0;
  int64_t size[kMaxRank] = {};
  int64_t src[kMaxRank] = {};
  int64_t dst[kMaxRank] = {};
};

__global__ void copy_strided_kernel(const float* src, float* dst, CopyDims d, int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = global_index(); i < n; i += step) {
    int64_t rest = i, s = 0, t = 0;
    for (int r = d.rank; r-- > 0;) {
      const int64_t idx = rest % d.size[r];
      rest /= d.size[r];
      s += idx * d.src[r];
      t += idx * d.dst[r];
    }
    dst[t] = src[s];
  }
}

__global__ void fill_kernel(float* dst, int64_t n, float value) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = global_index(); i < n; i += step) dst[i] = value;
}

void fill(float* dst, int64_t n, float value) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), kBlock>>>(dst, n, value);
  CUDA_CHECK_LAUNCH();
}

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// PadShape::out() (defined in the CPU library, which this one does not link).
std::vector<int64_t> padded_shape(const cpu::PadShape& s) {
  std::vector<int64_t> o(s.in.size());
  for (size_t d = 0; d < s.in.size(); ++d) o[d] = s.in[d] + s.begin[d] + s.end[d];
  return o;
}

// The part of x that survives padding (kernels/cpu/tensor_copy.cpp's pad_overlap).
bool pad_overlap(const cpu::PadShape& s, std::vector<int64_t>& lo, std::vector<int64_t>& count) {
  const size_t r = s.in.size();
  lo.resize(r);
  count.resize(r);
  for (size_t d = 0; d < r; ++d) {
    lo[d] = std::max<int64_t>(0, -s.begin[d]);
    const int64_t hi = std::min(s.in[d], s.in[d] + s.end[d]);
    count[d] = std::max<int64_t>(0, hi - lo[d]);
    if (count[d] == 0) return false;
  }
  return true;
}

void copy_overlap(const float* src, float* dst, const cpu::PadShape& s, bool to_output) {
  std::vector<int64_t> lo, count;
  if (!pad_overlap(s, lo, count)) return;
  const std::vector<int64_t> out = padded_shape(s);
  const std::vector<int64_t> in_st = row_major_strides(s.in), out_st = row_major_strides(out);
  int64_t in_off = 0, out_off = 0;
  for (size_t d = 0; d < lo.size(); ++d) {
    in_off += lo[d] * in_st[d];
    out_off += (lo[d] + s.begin[d]) * out_st[d];
  }
  if (to_output)
    copy_strided(src + in_off, in_st, dst + out_off, out_st, count);
  else
    copy_strided(src + out_off, out_st, dst + in_off, in_st, count);
}

}  // namespace

void copy_strided(const float* src, const std::vector<int64_t>& src_strides, float* dst,
                  const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& sizes) {
  STUCKAT_GPU_PROFILE("copy_strided");
  CopyDims d;
  int64_t n = 1;
  for (size_t k = 0; k < sizes.size(); ++k) {
    n *= sizes[k];
    if (sizes[k] == 1) continue;  // index 0 only: no offset
    STUCKAT_CHECK(d.rank < kMaxRank, "copy_strided on CUDA: more than {} dimensions of size > 1 (rank {})", kMaxRank,
                  sizes.size());
    d.size[d.rank] = sizes[k];
    d.src[d.rank] = src_strides[k];
    d.dst[d.rank] = dst_strides[k];
    ++d.rank;
  }
  if (n == 0) return;
  copy_strided_kernel<<<blocks_for(n), kBlock>>>(src, dst, d, n);
  CUDA_CHECK_LAUNCH();
}

void concat_piece_forward(const float* x, float* y, int64_t outer, int64_t x_inner, int64_t y_inner, int64_t offset) {
  copy_strided(x, {x_inner, 1}, y + offset, {y_inner, 1}, {outer, x_inner});
}

void concat_piece_backward(const float* dy, float* dx, int64_t outer, int64_t x_inner, int64_t y_inner,
                           int64_t offset) {
  copy_strided(dy + offset, {y_inner, 1}, dx, {x_inner, 1}, {outer, x_inner});
}

void permute_copy(const float* x, float* y, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& perm) {
  const std::vector<int64_t> in_st = row_major_strides(in_shape);
  std::vector<int64_t> out_shape(perm.size()), src_st(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    out_shape[i] = in_shape[static_cast<size_t>(perm[i])];
    src_st[i] = in_st[static_cast<size_t>(perm[i])];
  }
  copy_strided(x, src_st, y, row_major_strides(out_shape), out_shape);
}

void pad_constant_forward(const float* x, float* y, const cpu::PadShape& s, float value) {
  STUCKAT_GPU_PROFILE("pad.fwd");
  fill(y, product(padded_shape(s)), value);
  copy_overlap(x, y, s, true);
}

void pad_constant_backward(const float* dy, float* dx, const cpu::PadShape& s) {
  STUCKAT_GPU_PROFILE("pad.bwd");
  fill(dx, product(s.in), 0.0f);
  copy_overlap(dy, dx, s, false);
}

}  // namespace stuckat::cuda
