// CUDA memory primitives behind the device-side caching allocator (framework/storage.cpp).
#include <atomic>

#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/memory.h"

#include "framework/device.h"

namespace stuckat {

bool cuda_available() { return cuda::device_count() > 0; }

void cuda_init() {
  CUDA_CHECK(cudaFree(nullptr));  // creates the context
  cuda::gemm_init();
}

namespace cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

namespace {
std::atomic<long long> g_mallocs{0};
}

void* device_malloc(size_t bytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, bytes));
  ++g_mallocs;
  return p;
}

long long device_malloc_count() { return g_mallocs.load(); }

void device_free(void* p) { cudaFree(p); }

void copy(void* dst, bool dst_on_gpu, const void* src, bool src_on_gpu, size_t bytes) {
  STUCKAT_GPU_PROFILE("memcpy");
  cudaMemcpyKind kind = dst_on_gpu ? (src_on_gpu ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                   : (src_on_gpu ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

}  // namespace cuda
}  // namespace stuckat
