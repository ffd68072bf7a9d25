// Strided copies (concat, transpose, pad): every op is one copy_strided call, whose rows (all
// dimensions but the last) are split over the OpenMP threads when the copy is large enough.
#include "kernels/cpu/tensor_copy.h"

#include <algorithm>
#include <cstring>

namespace stuckat::cpu {
namespace {

// Below this many elements a copy runs on the calling thread (a thread team costs more).
constexpr int64_t kParallelElements = 1 << 15;

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

void fill(float* dst, int64_t n, float value) {
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
  for (int64_t i = 0; i < n; ++i) dst[i] = value;
}

// The part of x that survives padding, per dimension: x indices [lo, lo + count) land at output
// indices [lo + begin, lo + begin + count). Returns false when nothing survives.
bool pad_overlap(const PadShape& s, std::vector<int64_t>& lo, std::vector<int64_t>& count) {
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

// Copies the overlap between x and the padded output in either direction: x -> y (forward)
// or dy -> dx (backward).
void copy_overlap(const float* src, float* dst, const PadShape& s, bool to_output) {
  std::vector<int64_t> lo, count;
  if (!pad_overlap(s, lo, count)) return;
  const std::vector<int64_t> out = s.out();
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
  const size_t r = sizes.size();
  if (r == 0) {
    dst[0] = src[0];
    return;
  }
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < r; ++d) rows *= sizes[d];
  const int64_t inner = sizes[r - 1], s_in = src_strides[r - 1], d_in = dst_strides[r - 1];
  if (rows == 0 || inner == 0) return;
  const bool memcpy_rows = s_in == 1 && d_in == 1;
#pragma omp parallel for schedule(static) if (rows > 1 && rows * inner >= kParallelElements)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t rem = row, s_off = 0, d_off = 0;
    for (size_t d = r - 1; d-- > 0;) {  // the row's index, last outer dimension fastest
      const int64_t i = rem % sizes[d];
      rem /= sizes[d];
      s_off += i * src_strides[d];
      d_off += i * dst_strides[d];
    }
    const float* s = src + s_off;
    float* t = dst + d_off;
    if (memcpy_rows) {
      std::memcpy(t, s, static_cast<size_t>(inner) * sizeof(float));
    } else {
      for (int64_t j = 0; j < inner; ++j) t[j * d_in] = s[j * s_in];
    }
  }
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

std::vector<int64_t> PadShape::out() const {
  std::vector<int64_t> o(in.size());
  for (size_t d = 0; d < in.size(); ++d) o[d] = in[d] + begin[d] + end[d];
  return o;
}

void pad_constant_forward(const float* x, float* y, const PadShape& s, float value) {
  fill(y, product(s.out()), value);
  copy_overlap(x, y, s, true);
}

void pad_constant_backward(const float* dy, float* dx, const PadShape& s) {
  fill(dx, product(s.in), 0.0f);
  copy_overlap(dy, dx, s, false);
}

}  // namespace stuckat::cpu
