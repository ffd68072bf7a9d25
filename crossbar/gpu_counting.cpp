// Host side of the GPU path: checks that a device is there, then calls the CUDA library.
#include "crossbar/gpu_counting.h"

#include "base/device.h"
#include "base/error.h"
#include "crossbar/cuda/crossbar_cuda.h"

namespace stuckat::xbar {

bool gpu_counting_available() { return cuda_available(); }

namespace {
void require_gpu() {
  if (!gpu_counting_available())
    throw_input_error("--device cuda: no CUDA device is available on this machine (or this build has no CUDA backend)");
}
}  // namespace

TileCounts count_tiles_gpu(const SparseMatrix& a, TileShape t, GpuTiming* timing) {
  require_gpu();
  return count_tiles_cuda(a, t, timing);
}

int64_t count_compact_tiles_gpu(const SparseMatrix& a, TileShape t, GpuTiming* timing) {
  require_gpu();
  return count_compact_tiles_cuda(a, t, timing);
}

SparseMatrix transpose_gpu(const SparseMatrix& a) {
  require_gpu();
  return transpose_cuda(a);
}

TileAssignment reorder_compact_gpu(const SparseMatrix& a, TileShape t, GpuTiming* timing) {
  require_gpu();
  return reorder_compact_cuda(a, t, timing);
}

}  // namespace stuckat::xbar
