// The compaction strategy's full map on the GPU (strategy_compact.cpp's reorder_compact, the same
// assignment bit for bit): every nonzero's tile = band * grid_cols + slot / C, where band = the
// position of its row among the nonzero rows / R and slot = the rank of its column among the
// band's distinct columns in order of first appearance (CSR order). With Thrust:
//   1. position of each row among the nonzero rows (exclusive scan), row of each nonzero;
//   2. key (band, column) per nonzero, stable sort of the nonzero indices by key: each run of
//      equal keys is one of the band's columns and starts with its first appearance;
//   3. the runs sorted by (band, first appearance): a run's rank within its band is its slot;
//   4. every nonzero of a run gets that run's tile.
#include <thrust/binary_search.h>
#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/gather.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/scan.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>

#include <chrono>
#include <cstdint>

#include "crossbar/cuda/crossbar_cuda.h"
#include "crossbar/tile_layout.h"
#include "base/error.h"
#include "kernels/cuda/cuda_check.h"

namespace stuckat::xbar {
namespace {

struct NonzeroRowFlag {
  const int64_t* row_ptr;
  __device__ int64_t operator()(int64_t r) const { return row_ptr[r + 1] > row_ptr[r] ? 1 : 0; }
};

__global__ void band_keys(const int64_t* row_ptr, const int64_t* row_pos, const int32_t* col, int64_t rows,
                          int64_t cols, int64_t tile_rows, int64_t* key) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t band = row_pos[r] / tile_rows;
    for (int64_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) key[k] = band * cols + col[k];
  }
}

// Run heads of the sorted keys: 1 where a new (band, column) starts.
__global__ void run_heads(const int64_t* key, int64_t n, int32_t* head) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    head[i] = (i == 0 || key[i] != key[i - 1]) ? 1 : 0;
}

// Per run u (its head at sorted position head_pos[u]): sort key (band, first appearance).
__global__ void run_order_keys(const int64_t* key, const int32_t* idx, const int64_t* head_pos, int64_t runs,
                               int64_t cols, int64_t nnz, int64_t* order_key, int64_t* band_of_run) {
  for (int64_t u = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; u < runs; u += int64_t(gridDim.x) * blockDim.x) {
    const int64_t band = key[head_pos[u]] / cols;
    band_of_run[u] = band;
    order_key[u] = band * nnz + idx[head_pos[u]];
  }
}

// Sorted run j (run id run_at[j], band band_sorted[j], first sorted run of its band at
// band_first[j]) has slot j - band_first[j]; its tile is band * grid_cols + slot / C.
__global__ void run_tiles(const int64_t* run_at, const int64_t* band_sorted, const int64_t* band_first, int64_t runs,
                          int64_t grid_cols, int64_t tile_cols, int64_t* tile_of_run) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < runs; j += int64_t(gridDim.x) * blockDim.x)
    tile_of_run[run_at[j]] = band_sorted[j] * grid_cols + (j - band_first[j]) / tile_cols;
}

__global__ void scatter_tiles(const int32_t* idx, const int32_t* run_id, const int64_t* tile_of_run, int64_t n,
                              int64_t* tile_of_nonzero) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    tile_of_nonzero[idx[i]] = tile_of_run[run_id[i] - 1];  // run ids are an inclusive scan: 1-based
}

struct IsHead {
  __device__ bool operator()(int32_t head) const { return head != 0; }
};

// First sorted position of each band's runs: j where band changes, carried forward by a max-scan.
struct BandStart {
  const int64_t* band;
  __device__ int64_t operator()(int64_t j) const { return (j == 0 || band[j] != band[j - 1]) ? j : 0; }
};

constexpr int kThreads = 256;
unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 8)); }
template <typename T>
T* raw(thrust::device_vector<T>& v) {
  return thrust::raw_pointer_cast(v.data());
}

}  // namespace

TileAssignment reorder_compact_cuda(const SparseMatrix& a, TileShape t, GpuTiming* timing) {
  const int64_t nnz = a.nnz(), rows = a.rows, cols = a.cols;
  STUCKAT_CHECK(nnz < INT32_MAX, "the GPU compaction map takes 32-bit nonzero indices; the matrix has {} nonzeros", nnz);
  TileAssignment s;
  s.grid_cols = ceil_div(cols, t.cols);
  s.tile_of_nonzero.assign(static_cast<size_t>(nnz), 0);
  if (nnz == 0) return s;
  const auto t0 = std::chrono::steady_clock::now();
  thrust::device_vector<int64_t> row_ptr(a.row_ptr.begin(), a.row_ptr.end());
  thrust::device_vector<int32_t> col(a.col_idx.begin(), a.col_idx.end());
  CUDA_CHECK(cudaDeviceSynchronize());
  const auto t1 = std::chrono::steady_clock::now();

  thrust::device_vector<int64_t> row_pos(static_cast<size_t>(rows));
  auto flags = thrust::make_transform_iterator(thrust::counting_iterator<int64_t>(0), NonzeroRowFlag{raw(row_ptr)});
  thrust::exclusive_scan(thrust::device, flags, flags + rows, row_pos.begin());
  thrust::device_vector<int64_t> key(static_cast<size_t>(nnz));
  band_keys<<<blocks_for(rows), kThreads>>>(raw(row_ptr), raw(row_pos), raw(col), rows, cols, t.rows, raw(key));
  CUDA_CHECK_LAUNCH();
  thrust::device_vector<int32_t> idx(static_cast<size_t>(nnz));
  thrust::sequence(thrust::device, idx.begin(), idx.end());
  thrust::stable_sort_by_key(thrust::device, key.begin(), key.end(), idx.begin());

  thrust::device_vector<int32_t> run_id(static_cast<size_t>(nnz));
  run_heads<<<blocks_for(nnz), kThreads>>>(raw(key), nnz, raw(run_id));
  CUDA_CHECK_LAUNCH();
  thrust::device_vector<int64_t> head_pos(static_cast<size_t>(nnz));
  const auto head_end = thrust::copy_if(thrust::device, thrust::counting_iterator<int64_t>(0),
                                        thrust::counting_iterator<int64_t>(nnz), run_id.begin(), head_pos.begin(),
                                        IsHead{});
  const int64_t runs = head_end - head_pos.begin();
  thrust::inclusive_scan(thrust::device, run_id.begin(), run_id.end(), run_id.begin());

  thrust::device_vector<int64_t> order_key(static_cast<size_t>(runs)), band_of_run(static_cast<size_t>(runs)),
      run_at(static_cast<size_t>(runs));
  run_order_keys<<<blocks_for(runs), kThreads>>>(raw(key), raw(idx), raw(head_pos), runs, cols, nnz, raw(order_key),
                                                 raw(band_of_run));
  CUDA_CHECK_LAUNCH();
  thrust::sequence(thrust::device, run_at.begin(), run_at.end());
  thrust::sort_by_key(thrust::device, order_key.begin(), order_key.end(), run_at.begin());  // keys are distinct
  thrust::device_vector<int64_t> band_sorted(static_cast<size_t>(runs)), band_first(static_cast<size_t>(runs));
  thrust::gather(thrust::device, run_at.begin(), run_at.end(), band_of_run.begin(), band_sorted.begin());
  auto starts = thrust::make_transform_iterator(thrust::counting_iterator<int64_t>(0), BandStart{raw(band_sorted)});
  thrust::inclusive_scan(thrust::device, starts, starts + runs, band_first.begin(), thrust::maximum<int64_t>());
  thrust::device_vector<int64_t> tile_of_run(static_cast<size_t>(runs)), tile_of_nonzero(static_cast<size_t>(nnz));
  run_tiles<<<blocks_for(runs), kThreads>>>(raw(run_at), raw(band_sorted), raw(band_first), runs, s.grid_cols, t.cols,
                                           raw(tile_of_run));
  CUDA_CHECK_LAUNCH();
  scatter_tiles<<<blocks_for(nnz), kThreads>>>(raw(idx), raw(run_id), raw(tile_of_run), nnz, raw(tile_of_nonzero));
  CUDA_CHECK_LAUNCH();
  int64_t last_pos = 0;
  CUDA_CHECK(cudaMemcpy(&last_pos, raw(row_pos) + rows - 1, sizeof(int64_t), cudaMemcpyDeviceToHost));
  const int64_t nonzero_rows = last_pos + (a.row_ptr[rows] > a.row_ptr[rows - 1] ? 1 : 0);
  s.grid_rows = ceil_div(nonzero_rows, t.rows);
  CUDA_CHECK(cudaDeviceSynchronize());
  const auto t2 = std::chrono::steady_clock::now();
  thrust::copy(tile_of_nonzero.begin(), tile_of_nonzero.end(), s.tile_of_nonzero.begin());
  if (timing) {
    timing->upload_seconds = std::chrono::duration<double>(t1 - t0).count();
    timing->compute_seconds = std::chrono::duration<double>(t2 - t1).count();
  }
  return s;
}

}  // namespace stuckat::xbar
