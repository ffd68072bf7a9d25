// Row gather: one thread per destination element (consecutive threads read consecutive
// elements of one source row, so the reads coalesce within a row).
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gather_rows.h"
#include "kernels/cuda/launch.cuh"

namespace stuckat::cuda {
namespace {

template <typename T>
__global__ void gather_rows_kernel(const T* src, const int64_t* idx, int64_t total, int64_t row_elems, T* dst) {
  const int64_t i = global_index();
  if (i >= total) return;
  const int64_t row = i / row_elems, col = i - row * row_elems;
  dst[i] = src[idx[row] * row_elems + col];
}

}  // namespace

void gather_rows_f32(const float* src, const int64_t* idx, int64_t count, int64_t row_elems, float* dst) {
  STUCKAT_GPU_PROFILE("gather_rows");
  const int64_t total = count * row_elems;
  if (total == 0) return;
  gather_rows_kernel<float><<<grid_for(total), kBlock>>>(src, idx, total, row_elems, dst);
  CUDA_CHECK_LAUNCH();
}

void gather_i32(const int32_t* src, const int64_t* idx, int64_t count, int32_t* dst) {
  STUCKAT_GPU_PROFILE("gather_rows");
  if (count == 0) return;
  gather_rows_kernel<int32_t><<<grid_for(count), kBlock>>>(src, idx, count, 1, dst);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat::cuda
