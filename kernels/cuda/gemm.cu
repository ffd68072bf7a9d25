// gemm_row_major on cuBLAS. cuBLAS is column-major; a row-major (r, c) matrix is the
// column-major (c, r) matrix, so C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>

#include "kernels/cuda/cublas_library.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/profile.h"
#include "kernels/cuda/gemm.cuh"

namespace stuckat::cuda {
namespace {

cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    const CublasLibrary& cublas = cublas_library();
    cublasHandle_t created = nullptr;
    CUBLAS_CHECK(cublas.create(&created));
    // Plain fp32 (the default math mode never rounds sgemm inputs to TF32), comparable with
    // the CPU reference.
    CUBLAS_CHECK(cublas.set_math_mode(created, CUBLAS_DEFAULT_MATH));
    return created;
  }();  // never destroyed: kernels may run during static destruction
  return h;
}

int as_int(int64_t v, const char* what) {
  if (v < 0 || v > std::numeric_limits<int>::max())
    throw CudaError(fmt::format("gemm_row_major: {} = {} does not fit cuBLAS's int", what, v));
  return static_cast<int>(v);
}

}  // namespace

void gemm_init() { (void)handle(); }

namespace {

// STUCKAT_GEMM_TRACE=1: the host time of each shape's first call and of its later calls, to
// stderr at exit (a first call may choose kernels and load them; no synchronisation is added).
class GemmTrace {
 public:
  static GemmTrace* get() {
    static GemmTrace* t = std::getenv("STUCKAT_GEMM_TRACE") != nullptr ? new GemmTrace() : nullptr;
    return t;
  }
  void add(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    Shape& s = shapes_[std::make_tuple(ta, tb, m, n, k)];
    if (s.calls++ == 0)
      s.first_ms = ms;
    else
      s.later_ms += ms;
  }

 private:
  struct Shape {
    int64_t calls = 0;
    double first_ms = 0, later_ms = 0;
  };
  GemmTrace() {
    std::atexit([] {
      GemmTrace* t = get();
      std::fprintf(stderr, "gemm trace (host ms): shape (ta tb m n k): first call, later calls (count)\n");
      for (const auto& [key, s] : t->shapes_)
        std::fprintf(stderr, "  %d %d %lld %lld %lld: %.3f, %.3f (%lld)\n", std::get<0>(key), std::get<1>(key),
                     static_cast<long long>(std::get<2>(key)), static_cast<long long>(std::get<3>(key)),
                     static_cast<long long>(std::get<4>(key)), s.first_ms, s.later_ms, static_cast<long long>(s.calls - 1));
    });
  }
  std::mutex mutex_;
  std::map<std::tuple<bool, bool, int64_t, int64_t, int64_t>, Shape> shapes_;
};

}  // namespace

void gemm_row_major(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    const float* b, float beta, float* c) {
  STUCKAT_GPU_PROFILE("gemm");
  if (m == 0 || n == 0) return;
  GemmTrace* trace = GemmTrace::get();
  const auto t0 = std::chrono::steady_clock::now();
  const int mi = as_int(m, "m"), ni = as_int(n, "n"), ki = as_int(k, "k");
  const int lda = std::max(1, trans_a ? mi : ki);  // stored row length of A
  const int ldb = std::max(1, trans_b ? ki : ni);  // stored row length of B
  CUBLAS_CHECK(cublas_library().sgemm(handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, ni, mi,
                           ki, &alpha, b, ldb, a, lda, &beta, c, ni));
  if (trace)
    trace->add(trans_a, trans_b, m, n, k,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace stuckat::cuda
