// Host side of the GPU path: forwards to the CUDA library when it is built, otherwise says so.
#include "crossbar/gpu_counting.h"

#include "framework/device.h"
#include "framework/error.h"

namespace stuckat::xbar {

#ifdef STUCKAT_WITH_CUDA
// crossbar/cuda/tile_counts_cuda.cu
TileCounts count_tiles_cuda(const SparseMatrix& a, TileShape t, GpuTiming* timing);
int64_t count_compact_tiles_cuda(const SparseMatrix& a, TileShape t, GpuTiming* timing);
SparseMatrix transpose_cuda(const SparseMatrix& a);
// crossbar/cuda/compact_map_cuda.cu
TileAssignment reorder_compact_cuda(const SparseMatrix& a, TileShape t, GpuTiming* timing);
#endif

bool gpu_counting_available() {
#ifdef STUCKAT_WITH_CUDA
  return cuda_available();
#else
  return false;
#endif
}

namespace {
void require_gpu() {
  if (!gpu_counting_available())
    throw_input_error("--device cuda: no CUDA device is available on this machine (or this build has no CUDA backend)");
}
}  // namespace

TileCounts count_tiles_gpu(const SparseMatrix& a, TileShape t, GpuTiming* timing) {
  require_gpu();
#ifdef STUCKAT_WITH_CUDA
  return count_tiles_cuda(a, t, timing);
#else
  (void)a, (void)t, (void)timing;
  return {};
#endif
}

int64_t count_compact_tiles_gpu(const SparseMatrix& a, TileShape t, GpuTiming* timing) {
  require_gpu();
#ifdef STUCKAT_WITH_CUDA
  return count_compact_tiles_cuda(a, t, timing);
#else
  (void)a, (void)t, (void)timing;
  return 0;
#endif
}

SparseMatrix transpose_gpu(const SparseMatrix& a) {
  require_gpu();
#ifdef STUCKAT_WITH_CUDA
  return transpose_cuda(a);
#else
  return a;
#endif
}

TileAssignment reorder_compact_gpu(const SparseMatrix& a, TileShape t, GpuTiming* timing) {
  require_gpu();
#ifdef STUCKAT_WITH_CUDA
  return reorder_compact_cuda(a, t, timing);
#else
  (void)a, (void)t, (void)timing;
  return {};
#endif
}

}  // namespace stuckat::xbar
