// Batched matrix product on the CPU (ONNX/numpy MatMul after the op has promoted 1-D operands
// and broadcast the batch dimensions): reference (templated, plain loops) and fast float path.
//   a: a_count matrices (m, k)   b: b_count matrices (k, n)   y: batch() matrices (m, n)
//   y[i] = a[a_index[i]] * b[b_index[i]]
// Backward overwrites da (a_count, m, k) and db (b_count, k, n); either may be nullptr. An A
// (B) matrix shared by several outputs (batch broadcasting) gets the sum of their gradients,
// added in output order. All matrices row-major and contiguous.
#pragma once
#include <cstdint>
#include <vector>

namespace stuckat::cpu {

struct MatmulShape {
  int64_t m = 0, k = 0, n = 0;
  int64_t a_count = 1, b_count = 1;
  std::vector<int64_t> a_index, b_index;  // per output matrix; a_index.size() == b_index.size()
  int64_t batch() const { return static_cast<int64_t>(a_index.size()); }
};

template <typename T>
void matmul_forward_ref(const T* a, const T* b, T* y, const MatmulShape& s);
template <typename T>
void matmul_backward_ref(const T* a, const T* b, const T* dy, T* da, T* db, const MatmulShape& s);

// Fast path: GEMM calls (gemm.h) on blocks of rows and columns whose sizes depend only on the
// shape, spread over the OpenMP threads, so every element is summed in the same order on any
// thread count.
void matmul_forward(const float* a, const float* b, float* y, const MatmulShape& s);
void matmul_backward(const float* a, const float* b, const float* dy, float* da, float* db, const MatmulShape& s);

}  // namespace stuckat::cpu
