// Batched matrix product: the plain-loop reference (float and double) and the fast float path.
// The fast path cuts every product into blocks of at most kRowBlock x kColBlock outputs (sizes
// fixed by the shape alone) and hands each block to one single-threaded GEMM call (gemm.h);
// OpenMP spreads the blocks over the threads. A gradient shared through batch broadcasting is
// accumulated block by block with beta = 1, in output order. Each output element is therefore
// computed by the same calls on any thread count, so results do not depend on it.
#include "kernels/cpu/matmul.h"

#include <algorithm>

#include "kernels/cpu/gemm.h"

namespace stuckat::cpu {

// ---- reference ---------------------------------------------------------------------------------

template <typename T>
void matmul_forward_ref(const T* a, const T* b, T* y, const MatmulShape& s) {
  for (int64_t i = 0; i < s.batch(); ++i) {
    const T* ai = a + s.a_index[static_cast<size_t>(i)] * s.m * s.k;
    const T* bi = b + s.b_index[static_cast<size_t>(i)] * s.k * s.n;
    T* yi = y + i * s.m * s.n;
    for (int64_t r = 0; r < s.m; ++r)
      for (int64_t c = 0; c < s.n; ++c) {
        T acc = T(0);
        for (int64_t p = 0; p < s.k; ++p) acc += ai[r * s.k + p] * bi[p * s.n + c];
        yi[r * s.n + c] = acc;
      }
  }
}

template <typename T>
void matmul_backward_ref(const T* a, const T* b, const T* dy, T* da, T* db, const MatmulShape& s) {
  if (da) std::fill(da, da + s.a_count * s.m * s.k, T(0));
  if (db) std::fill(db, db + s.b_count * s.k * s.n, T(0));
  for (int64_t i = 0; i < s.batch(); ++i) {
    const int64_t ia = s.a_index[static_cast<size_t>(i)], ib = s.b_index[static_cast<size_t>(i)];
    const T* ai = a + ia * s.m * s.k;
    const T* bi = b + ib * s.k * s.n;
    const T* dyi = dy + i * s.m * s.n;
    if (da)  // dA = dY B^T
      for (int64_t r = 0; r < s.m; ++r)
        for (int64_t p = 0; p < s.k; ++p) {
          T acc = T(0);
          for (int64_t c = 0; c < s.n; ++c) acc += dyi[r * s.n + c] * bi[p * s.n + c];
          da[ia * s.m * s.k + r * s.k + p] += acc;
        }
    if (db)  // dB = A^T dY
      for (int64_t p = 0; p < s.k; ++p)
        for (int64_t c = 0; c < s.n; ++c) {
          T acc = T(0);
          for (int64_t r = 0; r < s.m; ++r) acc += ai[r * s.k + p] * dyi[r * s.n + c];
          db[ib * s.k * s.n + p * s.n + c] += acc;
        }
  }
}

template void matmul_forward_ref<float>(const float*, const float*, float*, const MatmulShape&);
template void matmul_forward_ref<double>(const double*, const double*, double*, const MatmulShape&);
template void matmul_backward_ref<float>(const float*, const float*, const float*, float*, float*, const MatmulShape&);
template void matmul_backward_ref<double>(const double*, const double*, const double*, double*, double*,
                                          const MatmulShape&);

// ---- fast path ---------------------------------------------------------------------------------

namespace {

constexpr int64_t kRowBlock = 64, kColBlock = 512;
// Below this many multiply-adds the blocks run on the calling thread.
constexpr int64_t kParallelWork = 1 << 16;

int64_t blocks(int64_t extent, int64_t block) { return (extent + block - 1) / block; }

// The block grid of `count` matrices of (rows, cols) outputs; block u covers matrix `mat`, rows
// [r0, r0 + nr) and columns [c0, c0 + nc).
struct BlockGrid {
  int64_t rows, cols, row_blocks, col_blocks;
  BlockGrid(int64_t r, int64_t c) : rows(r), cols(c), row_blocks(blocks(r, kRowBlock)), col_blocks(blocks(c, kColBlock)) {}
  int64_t per_matrix() const { return row_blocks * col_blocks; }
  struct Block {
    int64_t mat, r0, nr, c0, nc;
  };
  Block block(int64_t u) const {
    const int64_t mat = u / per_matrix(), rb = (u % per_matrix()) / col_blocks, cb = u % col_blocks;
    const int64_t r0 = rb * kRowBlock, c0 = cb * kColBlock;
    return {mat, r0, std::min(kRowBlock, rows - r0), c0, std::min(kColBlock, cols - c0)};
  }
};

void zero_block(float* c, int64_t ldc, const BlockGrid::Block& bl) {
  for (int64_t r = 0; r < bl.nr; ++r) std::fill(c + r * ldc, c + r * ldc + bl.nc, 0.0f);
}

// For each of `count` operand matrices, the outputs that read it, in output order.
std::vector<std::vector<int64_t>> readers(const std::vector<int64_t>& index, int64_t count) {
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(count));
  for (size_t i = 0; i < index.size(); ++i) out[static_cast<size_t>(index[i])].push_back(static_cast<int64_t>(i));
  return out;
}

}  // namespace

void matmul_forward(const float* a, const float* b, float* y, const MatmulShape& s) {
  if (s.m == 0 || s.n == 0 || s.batch() == 0) return;
  ensure_single_threaded_blas();
  const BlockGrid grid(s.m, s.n);
  const int64_t units = s.batch() * grid.per_matrix();
#pragma omp parallel for schedule(static) if (units > 1 && s.batch() * s.m * s.n * s.k >= kParallelWork)
  for (int64_t u = 0; u < units; ++u) {
    const BlockGrid::Block bl = grid.block(u);
    float* c = y + bl.mat * s.m * s.n + bl.r0 * s.n + bl.c0;
    if (s.k == 0) {
      zero_block(c, s.n, bl);
      continue;
    }
    const float* ai = a + s.a_index[static_cast<size_t>(bl.mat)] * s.m * s.k + bl.r0 * s.k;
    const float* bi = b + s.b_index[static_cast<size_t>(bl.mat)] * s.k * s.n + bl.c0;
    sgemm_rowmajor(false, false, bl.nr, bl.nc, s.k, 1.0f, ai, s.k, bi, s.n, 0.0f, c, s.n);
  }
}

void matmul_backward(const float* a, const float* b, const float* dy, float* da, float* db, const MatmulShape& s) {
  ensure_single_threaded_blas();
  const bool parallel = s.batch() * s.m * s.n * s.k >= kParallelWork;
  if (da && s.m > 0 && s.k > 0) {  // dA[ia] (m, k) = sum over its readers i of dY[i] (m, n) B[ib]^T
    const auto users = readers(s.a_index, s.a_count);
    const BlockGrid grid(s.m, s.k);
    const int64_t units = s.a_count * grid.per_matrix();
#pragma omp parallel for schedule(static) if (units > 1 && parallel)
    for (int64_t u = 0; u < units; ++u) {
      const BlockGrid::Block bl = grid.block(u);
      float* c = da + bl.mat * s.m * s.k + bl.r0 * s.k + bl.c0;
      const std::vector<int64_t>& list = users[static_cast<size_t>(bl.mat)];
      if (s.n == 0 || list.empty()) {
        zero_block(c, s.k, bl);
        continue;
      }
      for (size_t j = 0; j < list.size(); ++j) {
        const int64_t i = list[j];
        const float* dyi = dy + i * s.m * s.n + bl.r0 * s.n;
        const float* bi = b + s.b_index[static_cast<size_t>(i)] * s.k * s.n + bl.c0 * s.n;
        sgemm_rowmajor(false, true, bl.nr, bl.nc, s.n, 1.0f, dyi, s.n, bi, s.n, j == 0 ? 0.0f : 1.0f, c, s.k);
      }
    }
  }
  if (db && s.k > 0 && s.n > 0) {  // dB[ib] (k, n) = sum over its readers i of A[ia]^T (k, m) dY[i] (m, n)
    const auto users = readers(s.b_index, s.b_count);
    const BlockGrid grid(s.k, s.n);
    const int64_t units = s.b_count * grid.per_matrix();
#pragma omp parallel for schedule(static) if (units > 1 && parallel)
    for (int64_t u = 0; u < units; ++u) {
      const BlockGrid::Block bl = grid.block(u);
      float* c = db + bl.mat * s.k * s.n + bl.r0 * s.n + bl.c0;
      const std::vector<int64_t>& list = users[static_cast<size_t>(bl.mat)];
      if (s.m == 0 || list.empty()) {
        zero_block(c, s.n, bl);
        continue;
      }
      for (size_t j = 0; j < list.size(); ++j) {
        const int64_t i = list[j];
        const float* ai = a + s.a_index[static_cast<size_t>(i)] * s.m * s.k + bl.r0;  // A^T read in place
        const float* dyi = dy + i * s.m * s.n + bl.c0;
        sgemm_rowmajor(true, false, bl.nr, bl.nc, s.m, 1.0f, ai, s.k, dyi, s.n, j == 0 ? 0.0f : 1.0f, c, s.n);
      }
    }
  }
}

}  // namespace stuckat::cpu
