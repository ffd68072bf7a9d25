// One check family for CUDA runtime, cuBLAS and cuSPARSE status codes: each throws
// stuckat::CudaError with file:line and the library's own description of the status.
#pragma once
#include <cuda_runtime.h>

#include "base/error.h"

namespace stuckat::cuda {

inline const char* status_string(cudaError_t s) { return cudaGetErrorString(s); }
#ifdef CUSPARSE_VER_MAJOR  // include <cusparse.h> before this header to get CUSPARSE_CHECK
inline const char* status_string(cusparseStatus_t s) { return cusparseGetErrorString(s); }
#endif
#ifdef CUBLAS_VER_MAJOR  // include <cublas_v2.h> before this header to get CUBLAS_CHECK
const char* cublas_status_string(cublasStatus_t s);  // cublas_library.cu: from the opened library
inline const char* status_string(cublasStatus_t s) { return cublas_status_string(s); }
#endif

template <typename Status>
void check_status(Status s, Status ok, const char* expr, const char* file, int line) {
  if (s != ok)
    throw CudaError(fmt::format("{}:{}: {} failed: {}", file, line, expr, status_string(s)));
}

}  // namespace stuckat::cuda

#define CUDA_CHECK(expr) ::stuckat::cuda::check_status((expr), cudaSuccess, #expr, __FILE__, __LINE__)
// After every kernel launch: catches bad launch configurations at the launch site.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
#ifdef CUSPARSE_VER_MAJOR
#define CUSPARSE_CHECK(expr) ::stuckat::cuda::check_status((expr), CUSPARSE_STATUS_SUCCESS, #expr, __FILE__, __LINE__)
#endif
#ifdef CUBLAS_VER_MAJOR
#define CUBLAS_CHECK(expr) ::stuckat::cuda::check_status((expr), CUBLAS_STATUS_SUCCESS, #expr, __FILE__, __LINE__)
#endif
