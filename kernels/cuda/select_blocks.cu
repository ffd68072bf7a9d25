// select_blocks_f32 (select_blocks.h): one thread per destination element; consecutive threads
// copy consecutive elements of one block, so reads and writes coalesce. Indices in int32_t when
// they fit (fits_int32).
#include "kernels/cuda/preload.cuh"
#include "kernels/cuda/select_blocks.h"

#include <algorithm>

#include "base/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/profile.h"

namespace stuckat::cuda {
namespace {

struct InlineIndices {
  int32_t v[kInlineIndices];
};

template <typename I>
__global__ void select_blocks_kernel(const float* src, I extent, I block, InlineIndices inline_index,
                                     const int32_t* index_dev, I k, I total, float* dst) {
  const I e = thread_index<I>();
  if (e >= total) return;
  const I row = e / block, b = e - row * block, o = row / k, j = row - o * k;
  const I from = index_dev != nullptr ? index_dev[j] : inline_index.v[j];
  dst[e] = src[(o * extent + from) * block + b];
}

}  // namespace

void select_blocks_f32(const float* src, int64_t outer, int64_t extent, int64_t block, const int64_t* index,
                       const int32_t* index_dev, int64_t k, float* dst) {
  STUCKAT_GPU_PROFILE("select_index");
  const int64_t total = outer * k * block;
  if (total == 0) return;
  STUCKAT_CHECK(index_dev != nullptr || k <= kInlineIndices, "select_blocks_f32: {} indices need a device copy", k);
  InlineIndices inline_index{};
  if (index_dev == nullptr)
    for (int64_t j = 0; j < k; ++j) inline_index.v[j] = static_cast<int32_t>(index[j]);
  if (fits_int32(std::max(total, outer * extent * block)))
    select_blocks_kernel<int32_t><<<grid_for(total), kBlock>>>(src, static_cast<int32_t>(extent),
                                                               static_cast<int32_t>(block), inline_index, index_dev,
                                                               static_cast<int32_t>(k), static_cast<int32_t>(total), dst);
  else
    select_blocks_kernel<int64_t><<<grid_for(total), kBlock>>>(src, extent, block, inline_index, index_dev, k, total, dst);
  CUDA_CHECK_LAUNCH();
}

void preload_select_blocks_kernels() {
  preload_kernel(select_blocks_kernel<int32_t>);
  preload_kernel(select_blocks_kernel<int64_t>);
}

}  // namespace stuckat::cuda
