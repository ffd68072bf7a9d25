// The GPU path's host interface (plain C++, no CUDA headers): CSR -> CSC with cuSPARSE
// (cusparseCsr2cscEx2), nonzero-tile / segment counting, the compaction count and the
// compaction map with Thrust/CUB. Results are integers and must equal the CPU path's bit for bit. Implemented in
// crossbar/cuda/tile_counts_cuda.cu and compact_map_cuda.cu; in a build without CUDA every call throws InputError (no device).
#pragma once
#include <cstdint>
#include <vector>

#include "crossbar/sparse_matrix.h"
#include "crossbar/tile_layout.h"
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
// The "compact" strategy's assignment computed on the GPU (sorts and scans with Thrust): equal
// to reorder_compact(a, t) entry for entry.
TileAssignment reorder_compact_gpu(const SparseMatrix& a, TileShape t, GpuTiming* timing = nullptr);

}  // namespace stuckat::xbar
