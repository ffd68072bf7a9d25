// Loading a kernel ahead of its first launch. CUDA loads modules and kernels lazily, at a kernel's
// first use, and loading one synchronizes the context: a kernel first launched while the device
// is busy stalls the launching thread until the device has drained its queue, which serializes a
// pipeline that queues work ahead. Code that queues such work (the sweep's device path) loads its
// kernels first (sweep/sweep_warm_up.h). CUDA-only header (included by .cu files).
#pragma once
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"

namespace stuckat::cuda {

// Referencing a kernel (cudaFuncGetAttributes) loads it and its module.
template <typename... Args>
void preload_kernel(void (*kernel)(Args...)) {
  cudaFuncAttributes attributes;
  CUDA_CHECK(cudaFuncGetAttributes(&attributes, kernel));
}

}  // namespace stuckat::cuda
