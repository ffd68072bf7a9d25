// Row gather on the GPU, for batches drawn from a dataset that lives in device memory:
// dst row i = src row idx[i]. All pointers are device memory; idx values must lie in the source
// (the caller checks them on the host). Launches on the default stream and checks the launch.
#pragma once
#include <cstdint>
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

// src: (rows, row_elems) f32; dst: (count, row_elems).
STUCKAT_CUDA_API void gather_rows_f32(const float* src, const int64_t* idx, int64_t count, int64_t row_elems, float* dst) STUCKAT_CUDA_STUB;
// src: (rows) i32; dst: (count).
STUCKAT_CUDA_API void gather_i32(const int32_t* src, const int64_t* idx, int64_t count, int32_t* dst) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
