// The GPU path of crossbar counting: CSR -> CSC with cuSPARSE (cusparseCsr2cscEx2),
// nonzero tiles / column segments as bitmaps set by one thread per nonzero (atomicOr) and
// counted with a Thrust popcount reduction, row segments as a Thrust count_if over the column-band
// changes along each row (column indices are sorted per row), and the compaction count with a
// Thrust scan (band of each nonzero row) plus a CUB block reduction per band. All results are
// integers and equal the CPU path's (crossbar/tile_counts.cpp, strategy_compact.cpp) exactly.
#include <cusparse.h>
#include <thrust/count.h>
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/scan.h>
#include <thrust/transform_reduce.h>

#include <chrono>
#include <cstdint>
#include <cub/block/block_reduce.cuh>

#include "crossbar/cuda/crossbar_cuda.h"
#include "kernels/cuda/cuda_check.h"

namespace stuckat::xbar {
namespace {

template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    if (n_ > 0) CUDA_CHECK(cudaMalloc(&p_, n_ * sizeof(T)));
  }
  ~DeviceArray() {
    if (p_) cudaFree(p_);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return p_; }
  size_t size() const { return n_; }
  void zero() {
    if (n_ > 0) CUDA_CHECK(cudaMemset(p_, 0, n_ * sizeof(T)));
  }

 private:
  T* p_ = nullptr;
  size_t n_;
};

struct DeviceCsr {
  DeviceArray<int64_t> row_ptr;
  DeviceArray<int32_t> col;
  DeviceArray<int32_t> row_of;  // row of every nonzero
  DeviceCsr(int64_t rows, int64_t nnz)
      : row_ptr(static_cast<size_t>(rows) + 1), col(static_cast<size_t>(nnz)), row_of(static_cast<size_t>(nnz)) {}
};

constexpr int kThreads = 256;

int blocks_for(int64_t n) { return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 8)); }

__global__ void expand_rows(const int64_t* row_ptr, int64_t rows, int32_t* row_of) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x)
    for (int64_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) row_of[k] = static_cast<int32_t>(r);
}

__device__ __forceinline__ void set_bit(uint32_t* bits, int64_t i) {
  const uint32_t m = 1u << (i & 31);
  if (!(bits[i >> 5] & m)) atomicOr(&bits[i >> 5], m);
}

// Tile (rb, cb) -> bit rb * col_bands + cb; column segment (rb, c) -> bit rb * seg_stride + c.
__global__ void mark_tiles(const int32_t* row_of, const int32_t* col, int64_t nnz, int64_t tile_rows, int64_t tile_cols,
                           int64_t col_bands, int64_t seg_stride, uint32_t* tile_bits, uint32_t* seg_bits) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < nnz; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t rb = row_of[k] / tile_rows, c = col[k];
    set_bit(tile_bits, rb * col_bands + c / tile_cols);
    set_bit(seg_bits, rb * seg_stride + c);
  }
}

struct Popcount {
  __device__ int64_t operator()(uint32_t w) const { return __popc(w); }
};

// Nonzero k opens a row segment when it is the first of its row or changes column band.
struct OpensRowSegment {
  const int64_t* row_ptr;
  const int32_t* row_of;
  const int32_t* col;
  int64_t tile_cols;
  __device__ bool operator()(int64_t k) const {
    return k == row_ptr[row_of[k]] || col[k] / tile_cols != col[k - 1] / tile_cols;
  }
};

struct IsNonzeroRow {
  const int64_t* row_ptr;
  __device__ int64_t operator()(int64_t r) const { return row_ptr[r + 1] > row_ptr[r] ? 1 : 0; }
};

// Compaction: nonzero k of a nonzero row at position p among the nonzero rows sets bit
// (p / tile_rows) * seg_stride + c.
__global__ void mark_compact(const int32_t* row_of, const int32_t* col, const int64_t* row_pos, int64_t nnz,
                             int64_t tile_rows, int64_t seg_stride, uint32_t* bits) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < nnz; k += int64_t(gridDim.x) * blockDim.x)
    set_bit(bits, (row_pos[row_of[k]] / tile_rows) * seg_stride + col[k]);
}

// One block per band: distinct columns of the band = popcount of its words; tiles = ceil(/C).
__global__ void band_tiles(const uint32_t* bits, int64_t words_per_band, int64_t tile_cols, unsigned long long* tiles) {
  using Reduce = cub::BlockReduce<int64_t, kThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  const uint32_t* w = bits + blockIdx.x * words_per_band;
  int64_t n = 0;
  for (int64_t i = threadIdx.x; i < words_per_band; i += kThreads) n += __popc(w[i]);
  const int64_t distinct = Reduce(tmp).Sum(n);
  if (threadIdx.x == 0) atomicAdd(tiles, static_cast<unsigned long long>((distinct + tile_cols - 1) / tile_cols));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Uploads the CSR arrays and expands the row of every nonzero.
void upload(const SparseMatrix& a, DeviceCsr& d, GpuTiming* timing) {
  CUDA_CHECK(cudaDeviceSynchronize());
  const auto t0 = std::chrono::steady_clock::now();
  CUDA_CHECK(cudaMemcpy(d.row_ptr.get(), a.row_ptr.data(), a.row_ptr.size() * sizeof(int64_t), cudaMemcpyHostToDevice));
  if (a.nnz() > 0)
    CUDA_CHECK(cudaMemcpy(d.col.get(), a.col_idx.data(), a.col_idx.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaDeviceSynchronize());
  if (timing) timing->upload_seconds = seconds_since(t0);
}

class EventTimer {
 public:
  EventTimer() {
    CUDA_CHECK(cudaEventCreate(&start_));
    CUDA_CHECK(cudaEventCreate(&stop_));
    CUDA_CHECK(cudaEventRecord(start_));
  }
  ~EventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  double seconds() {
    CUDA_CHECK(cudaEventRecord(stop_));
    CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms / 1000.0;
  }

 private:
  cudaEvent_t start_, stop_;
};

}  // namespace

TileCounts count_tiles_cuda(const SparseMatrix& a, TileShape t, GpuTiming* timing) {
  const int64_t nnz = a.nnz(), rows = a.rows, cols = a.cols;
  const int64_t row_bands = ceil_div(rows, t.rows), col_bands = ceil_div(cols, t.cols);
  const int64_t seg_stride = ceil_div(cols, 32) * 32;
  DeviceCsr d(rows, nnz);
  upload(a, d, timing);
  DeviceArray<uint32_t> tile_bits(static_cast<size_t>(ceil_div(row_bands * col_bands, 32)));
  DeviceArray<uint32_t> seg_bits(static_cast<size_t>(row_bands * seg_stride / 32));
  EventTimer timer;
  tile_bits.zero();
  seg_bits.zero();
  TileCounts n;
  n.nnz = nnz;
  n.tiles = row_bands * col_bands;
  n.col_segments = row_bands * cols;
  n.row_segments = rows * col_bands;
  if (nnz > 0) {
    expand_rows<<<blocks_for(rows), kThreads>>>(d.row_ptr.get(), rows, d.row_of.get());
    CUDA_CHECK_LAUNCH();
    mark_tiles<<<blocks_for(nnz), kThreads>>>(d.row_of.get(), d.col.get(), nnz, t.rows, t.cols, col_bands, seg_stride,
                                              tile_bits.get(), seg_bits.get());
    CUDA_CHECK_LAUNCH();
    n.nonzero_tiles = thrust::transform_reduce(thrust::device, tile_bits.get(), tile_bits.get() + tile_bits.size(),
                                               Popcount{}, int64_t(0), thrust::plus<int64_t>());
    n.nonzero_col_segments = thrust::transform_reduce(thrust::device, seg_bits.get(), seg_bits.get() + seg_bits.size(),
                                                      Popcount{}, int64_t(0), thrust::plus<int64_t>());
    n.nonzero_row_segments = thrust::count_if(thrust::device, thrust::counting_iterator<int64_t>(0),
                                              thrust::counting_iterator<int64_t>(nnz),
                                              OpensRowSegment{d.row_ptr.get(), d.row_of.get(), d.col.get(), t.cols});
  }
  const double s = timer.seconds();
  if (timing) timing->compute_seconds = s;
  return n;
}

int64_t count_compact_tiles_cuda(const SparseMatrix& a, TileShape t, GpuTiming* timing) {
  const int64_t nnz = a.nnz(), rows = a.rows, cols = a.cols;
  const int64_t seg_stride = ceil_div(cols, 32) * 32;
  DeviceCsr d(rows, nnz);
  upload(a, d, timing);
  DeviceArray<int64_t> row_pos(static_cast<size_t>(rows) + 1);
  DeviceArray<unsigned long long> tiles(1);
  EventTimer timer;
  tiles.zero();
  int64_t nonzero_rows = 0;
  if (nnz > 0) {
    // Position of each row among the nonzero rows (exclusive scan of the nonzero-row flags).
    auto flags = thrust::make_transform_iterator(thrust::counting_iterator<int64_t>(0), IsNonzeroRow{d.row_ptr.get()});
    thrust::exclusive_scan(thrust::device, flags, flags + rows, row_pos.get());
    int64_t last_pos = 0;
    CUDA_CHECK(cudaMemcpy(&last_pos, row_pos.get() + rows - 1, sizeof(int64_t), cudaMemcpyDeviceToHost));
    nonzero_rows = last_pos + (a.row_ptr[rows] > a.row_ptr[rows - 1] ? 1 : 0);
  }
  const int64_t bands = ceil_div(nonzero_rows, t.rows);
  DeviceArray<uint32_t> bits(static_cast<size_t>(bands * seg_stride / 32));
  bits.zero();
  if (bands > 0) {
    expand_rows<<<blocks_for(rows), kThreads>>>(d.row_ptr.get(), rows, d.row_of.get());
    CUDA_CHECK_LAUNCH();
    mark_compact<<<blocks_for(nnz), kThreads>>>(d.row_of.get(), d.col.get(), row_pos.get(), nnz, t.rows, seg_stride,
                                                bits.get());
    CUDA_CHECK_LAUNCH();
    band_tiles<<<static_cast<unsigned>(bands), kThreads>>>(bits.get(), seg_stride / 32, t.cols, tiles.get());
    CUDA_CHECK_LAUNCH();
  }
  unsigned long long result = 0;
  CUDA_CHECK(cudaMemcpy(&result, tiles.get(), sizeof(result), cudaMemcpyDeviceToHost));
  const double s = timer.seconds();
  if (timing) timing->compute_seconds = s;
  return static_cast<int64_t>(result);
}

SparseMatrix transpose_cuda(const SparseMatrix& a) {
  SparseMatrix t;
  t.name = a.name;
  t.rows = a.cols;
  t.cols = a.rows;
  const int64_t nnz = a.nnz();
  if (nnz == 0) {
    t.row_ptr.assign(static_cast<size_t>(t.rows) + 1, 0);
    return t;
  }
  STUCKAT_CHECK(nnz < INT32_MAX && a.rows < INT32_MAX && a.cols < INT32_MAX,
                "cusparseCsr2cscEx2 takes 32-bit indices; the matrix has {} nonzeros", nnz);
  std::vector<int32_t> row_ptr32(a.row_ptr.begin(), a.row_ptr.end());
  DeviceArray<int32_t> d_row_ptr(row_ptr32.size()), d_col(static_cast<size_t>(nnz)), d_csc_ptr(static_cast<size_t>(a.cols) + 1),
      d_csc_row(static_cast<size_t>(nnz));
  DeviceArray<float> d_val(static_cast<size_t>(nnz)), d_csc_val(static_cast<size_t>(nnz));
  CUDA_CHECK(cudaMemcpy(d_row_ptr.get(), row_ptr32.data(), row_ptr32.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(d_col.get(), a.col_idx.data(), static_cast<size_t>(nnz) * sizeof(int32_t), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(d_val.get(), a.values.data(), static_cast<size_t>(nnz) * sizeof(float), cudaMemcpyHostToDevice));
  cusparseHandle_t handle = nullptr;
  CUSPARSE_CHECK(cusparseCreate(&handle));
  size_t buffer_bytes = 0;
  const int m = static_cast<int>(a.rows), n = static_cast<int>(a.cols), z = static_cast<int>(nnz);
  try {
    CUSPARSE_CHECK(cusparseCsr2cscEx2_bufferSize(handle, m, n, z, d_val.get(), d_row_ptr.get(), d_col.get(), d_csc_val.get(),
                                                 d_csc_ptr.get(), d_csc_row.get(), CUDA_R_32F, CUSPARSE_ACTION_NUMERIC,
                                                 CUSPARSE_INDEX_BASE_ZERO, CUSPARSE_CSR2CSC_ALG1, &buffer_bytes));
    DeviceArray<char> buffer(std::max<size_t>(buffer_bytes, 1));
    CUSPARSE_CHECK(cusparseCsr2cscEx2(handle, m, n, z, d_val.get(), d_row_ptr.get(), d_col.get(), d_csc_val.get(),
                                      d_csc_ptr.get(), d_csc_row.get(), CUDA_R_32F, CUSPARSE_ACTION_NUMERIC,
                                      CUSPARSE_INDEX_BASE_ZERO, CUSPARSE_CSR2CSC_ALG1, buffer.get()));
    CUDA_CHECK(cudaDeviceSynchronize());
  } catch (...) {
    cusparseDestroy(handle);
    throw;
  }
  cusparseDestroy(handle);
  std::vector<int32_t> csc_ptr(static_cast<size_t>(a.cols) + 1);
  t.col_idx.resize(static_cast<size_t>(nnz));
  t.values.resize(static_cast<size_t>(nnz));
  CUDA_CHECK(cudaMemcpy(csc_ptr.data(), d_csc_ptr.get(), csc_ptr.size() * sizeof(int32_t), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(t.col_idx.data(), d_csc_row.get(), t.col_idx.size() * sizeof(int32_t), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(t.values.data(), d_csc_val.get(), t.values.size() * sizeof(float), cudaMemcpyDeviceToHost));
  t.row_ptr.assign(csc_ptr.begin(), csc_ptr.end());
  return t;
}

}  // namespace stuckat::xbar
