// relu_pool_channel_delta (channel_delta.h) on the GPU: one thread per output element running
// channel_delta_at. Declared without CUDA headers; defined only when the CUDA backend is built.
// Launch only (no synchronisation).
#pragma once
#include <cstdint>

#include "sweep/channel_delta.h"
#include "sweep/cuda/sweep_delta_cuda.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::sweep {

// Pointers in GPU memory except `channels` (d.k host values); starts may be null (no changes).
// Up to cuda::kInlineIndices channels travel in the kernel's arguments; more are uploaded
// (which synchronises).
STUCKAT_CUDA_API void channel_delta_cuda(const float* x, const float* clean_out, const float* ref, const int64_t* channels,
                                         const int32_t* starts, const int32_t* tap, const float* delta, const ChannelDeltaDims& d,
                                         float* out) STUCKAT_CUDA_STUB;

// relu_pool_channel_delta_stacked: `blocks` (<= kStackedBlocks) blocks of d.n * d.c * d.ph * d.pw
// values at out, block p from the lists' entry p (null starts: no changes, a block of zeros; skip
// is not read). d.k == d.c.
STUCKAT_CUDA_API void channel_delta_stacked_cuda(const float* x, const float* clean_out, const float* ref, const StackedChangeLists& lists,
                                                 int64_t blocks, const ChannelDeltaDims& d, float* out) STUCKAT_CUDA_STUB;

// Loads these kernels now (kernels/cuda/preload.cuh).
STUCKAT_CUDA_API void preload_channel_delta_kernels() STUCKAT_CUDA_STUB;

}  // namespace stuckat::sweep
