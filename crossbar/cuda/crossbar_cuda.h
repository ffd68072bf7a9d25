// The CUDA side of crossbar counting, declared for gpu_counting.cpp (which checks for a device
// first). Defined in tile_counts_cuda.cu and compact_map_cuda.cu; inline stubs in a CPU-only build
// (kernels/cuda/cuda_api.h).
#pragma once
#include <cstdint>

#include "crossbar/gpu_counting.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::xbar {

STUCKAT_CUDA_API TileCounts count_tiles_cuda(const SparseMatrix& a, TileShape t, GpuTiming* timing) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API int64_t count_compact_tiles_cuda(const SparseMatrix& a, TileShape t,
                                                  GpuTiming* timing) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API SparseMatrix transpose_cuda(const SparseMatrix& a) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API TileAssignment reorder_compact_cuda(const SparseMatrix& a, TileShape t,
                                                     GpuTiming* timing) STUCKAT_CUDA_STUB;

}  // namespace stuckat::xbar
