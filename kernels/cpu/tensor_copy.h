// Strided copies for the tensor-manipulation ops (framework/ops/tensor_ops.cpp): concat pieces,
// the permuted copy of transpose, constant padding and the cropped copy of its gradient. Copies
// are exact, so there is no separate reference: each is one strided copy (OpenMP over the outer
// rows above a size threshold). All tensors are row-major and contiguous; shapes are in elements.
#pragma once
#include <cstdint>
#include <vector>

namespace stuckat::cpu {

// dst[sum_d i_d * dst_strides[d]] = src[sum_d i_d * src_strides[d]] for every index i < sizes
// (rank 0: one element). Strides are in elements; the last dimension is the inner loop.
void copy_strided(const float* src, const std::vector<int64_t>& src_strides, float* dst,
                  const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& sizes);

// Concat along one axis, seen as (outer, inner) blocks: x (outer, x_inner) is the column block
// [offset, offset + x_inner) of y (outer, y_inner). Forward writes it into y; backward reads it
// out of dy into dx.
void concat_piece_forward(const float* x, float* y, int64_t outer, int64_t x_inner, int64_t y_inner, int64_t offset);
void concat_piece_backward(const float* dy, float* dx, int64_t outer, int64_t x_inner, int64_t y_inner,
                           int64_t offset);

// y (contiguous, shape in_shape[perm[i]]) = x (contiguous, shape in_shape) permuted: output
// dimension i is input dimension perm[i].
void permute_copy(const float* x, float* y, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& perm);

// Constant padding: out[d] = in[d] + begin[d] + end[d]; a negative begin/end crops.
struct PadShape {
  std::vector<int64_t> in, begin, end;
  std::vector<int64_t> out() const;
};
// y = x padded with `value` (cropped where a pad is negative).
void pad_constant_forward(const float* x, float* y, const PadShape& s, float value);
// dx = the slice of dy that x landed in; zero where x was cropped away.
void pad_constant_backward(const float* dy, float* dx, const PadShape& s);

}  // namespace stuckat::cpu
