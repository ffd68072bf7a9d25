// Strided copies on the GPU for concat, transpose and constant pad: the signatures and shapes of
// kernels/cpu/tensor_copy.h, each one generic strided-copy kernel (one thread per element copied,
// rank <= 8 after dropping size-1 dimensions; more throws) plus a fill. Copies are exact.
// Device pointers, default stream.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu/tensor_copy.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void copy_strided(const float* src, const std::vector<int64_t>& src_strides, float* dst, const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& sizes) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void concat_piece_forward(const float* x, float* y, int64_t outer, int64_t x_inner, int64_t y_inner, int64_t offset) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void concat_piece_backward(const float* dy, float* dx, int64_t outer, int64_t x_inner, int64_t y_inner, int64_t offset) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void permute_copy(const float* x, float* y, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& perm) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void pad_constant_forward(const float* x, float* y, const cpu::PadShape& s, float value) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void pad_constant_backward(const float* dy, float* dx, const cpu::PadShape& s) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
