// Tensor-manipulation and matrix ops with ONNX semantics (concat, transpose, constant pad,
// MatMul, Gemm), differentiable, for model importers, on the CPU and CUDA (gemm's common case runs
// through linear()).
// Implemented in framework/ops/tensor_ops.cpp and framework/ops/matmul_ops.cpp.
#pragma once
#include <vector>

#include "framework/tensor.h"

namespace stuckat {

// ONNX Concat: same rank, equal sizes but on `axis` (negative counts from the end).
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
// ONNX Transpose: output dim i is input dim perm[i] (perm a permutation of 0..rank-1).
Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm);
// ONNX Pad, mode constant: pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...] (2 * rank values);
// negative pads crop. Gradient: the matching slice of the output gradient.
Tensor pad_constant(const Tensor& x, const std::vector<int64_t>& pads, float value);
// ONNX/numpy MatMul: 1-D operands promoted (and the added dim removed from the result), batch dims
// broadcast; float32, summed in a fixed order (results independent of thread count).
Tensor matmul(const Tensor& a, const Tensor& b);
// ONNX Gemm: Y = alpha * A' * B' + beta * C, A' = trans_a ? A^T : A (2-D), likewise B'; C (may be an
// undefined Tensor()) unidirectionally broadcast to (M, N). When alpha == 1, beta == 1 (or C undefined),
// trans_a == false, trans_b == true and C is 1-D of size N (or undefined), this calls linear(A, B, C)
// (framework/ops.h), so the common PyTorch-exported classifier layer is fast and works on CUDA.
// beta == 0 ignores C (no contribution, no gradient), as the ONNX reference implementation does.
Tensor gemm(const Tensor& a, const Tensor& b, const Tensor& c, float alpha, float beta, bool trans_a, bool trans_b);

}  // namespace stuckat
