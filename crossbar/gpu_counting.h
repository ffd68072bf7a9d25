// The GPU path's host interface (plain C++, no CUDA headers): CSR -> CSC with cuSPARSE
// (cusparseCsr2cscEx2), nonzero-tile / segment counting and the compaction count with
// Thrust/CUB. Results are integers and must equal the CPU path's bit for bit. Implemented in
// crossbar/cuda/tile_counts_cuda.cu; in a build without CUDA every call throws InputError.
#pragma once
#include <cstdint>
#include <vector>

#include "crossbar/sparse_matrix.h"
#include "crossbar/tile_counts.h"
#include "crossbar/tile_shape.h"

namespace stuckat::xbar {

struct GpuTiming {
  double upload_seconds = 0;   // host -> device copy of the CSR arrays
  double compute_seconds = 0;  // kernels only, timed with CUDA events
};

bool gpu_counting_available();  // a CUDA build and a device present

TileCounts count_tiles_gpu(const SparseMatrix& a, TileShape t, GpuTiming* timing = nullptr);
int64_t count_compact_tiles_gpu(const SparseMatrix& a, TileShape t, GpuTiming* timing = nullptr);
// The CSC of `a` (= transpose(a) as CSR) built on the GPU with cusparseCsr2cscEx2.
SparseMatrix transpose_gpu(const SparseMatrix& a);

}  // namespace stuckat::xbar
