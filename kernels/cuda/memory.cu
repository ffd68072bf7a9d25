// CUDA memory primitives behind the device-side caching allocator (framework/storage.cpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/memory.h"

// Every copy, allocation and launch goes to stream 0, and the sweep's planning thread
// (sweep/run_ahead.h) relies on that stream being the legacy default stream that all host
// threads share: its uploads are ordered before the launches the other thread queues after them.
#ifdef CUDA_API_PER_THREAD_DEFAULT_STREAM
#error "stuckat's CUDA code relies on the legacy default stream shared by all host threads"
#endif

namespace stuckat::cuda {

void start_runtime() {
  CUDA_CHECK(cudaFree(nullptr));  // creates the context
  reserve_device_memory();
  gemm_init();
}

namespace {
std::atomic<long long> g_mallocs{0};
std::atomic<long long> g_malloc_ns{0};

// Device memory comes from the device's default stream-ordered pool (cudaMallocAsync and
// cudaFreeAsync on the default stream, where all our work runs), set to keep the memory freed
// into it: the caching allocator (framework/storage.cpp) still reuses blocks of a size it has
// seen, and a size it has not seen becomes a sub-allocation of memory the pool already holds
// instead of a cudaMalloc (a driver call mapping new memory, ~0.1-1 ms; a sweep pass meets many
// new sizes). cudaMalloc where the device has no memory pools.
bool use_pool() {
  static const bool on = [] {
    int dev = 0, supported = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, dev) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    if (!supported) return false;
    cudaMemPool_t pool;
    CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, dev));
    uint64_t keep = UINT64_MAX;
    CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    return true;
  }();
  return on;
}
}  // namespace

void* device_malloc(size_t bytes) {
  STUCKAT_GPU_PROFILE("device_malloc");  // how many, and what they cost, with STUCKAT_CUDA_PROFILE=1
  void* p = nullptr;
  const auto t0 = std::chrono::steady_clock::now();
  const cudaError_t s = use_pool() ? cudaMallocAsync(&p, bytes, 0) : cudaMalloc(&p, bytes);
  g_malloc_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  if (s != cudaSuccess) {
    cudaGetLastError();  // out of memory is not sticky: clear it, so the caller may free memory and retry
    throw CudaError(fmt::format("allocating {} bytes of GPU memory failed: {}", bytes, cudaGetErrorString(s)));
  }
  ++g_mallocs;
  return p;
}

long long device_malloc_count() { return g_mallocs.load(); }

double device_malloc_ms() { return 1e-6 * static_cast<double>(g_malloc_ns.load()); }

void device_free(void* p) {
  if (use_pool())
    cudaFreeAsync(p, 0);  // in stream order: after the kernels still using it
  else
    cudaFree(p);
}

void reserve_device_memory() {
  if (!use_pool()) return;
  size_t free_bytes = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  const size_t bytes = std::min<size_t>(free_bytes / 8, size_t(8) << 30);
  if (bytes == 0) return;
  void* p = nullptr;
  if (cudaMallocAsync(&p, bytes, 0) != cudaSuccess) {  // only a head start: run without it
    cudaGetLastError();
    return;
  }
  CUDA_CHECK(cudaFreeAsync(p, 0));  // the pool keeps it
  CUDA_CHECK(cudaStreamSynchronize(0));
}

void copy(void* dst, bool dst_on_gpu, const void* src, bool src_on_gpu, size_t bytes) {
  STUCKAT_GPU_PROFILE("memcpy");
  cudaMemcpyKind kind = dst_on_gpu ? (src_on_gpu ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                   : (src_on_gpu ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  if (kind == cudaMemcpyHostToDevice) {
    copy_to_device(dst, src, bytes);  // queued behind the work already queued (host_staging.cu)
    return;
  }
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

}  // namespace stuckat::cuda
