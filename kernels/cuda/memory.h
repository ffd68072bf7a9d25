// Plain C++ declarations of the CUDA memory primitives, so host code can call them without
// including CUDA headers. Implemented in memory.cu.
#pragma once
#include <cstddef>

#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

// Starts the CUDA runtime and cuBLAS now (the context and the cuBLAS handle, about 0.1 s once
// per process) instead of inside the first op that needs them. Commands call it when --device
// cuda is chosen, so timed work (a sweep, an epoch) does not include it.
STUCKAT_CUDA_API void start_runtime() STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void* device_malloc(size_t bytes) STUCKAT_CUDA_STUB;  // throws CudaError
                                     // How many device_malloc calls this process made (tests check that a warm training step makes none).
                                     STUCKAT_CUDA_API long long device_malloc_count() STUCKAT_CUDA_STUB;
// Host ms those calls took in all (the sweep trace reports a chunk's share).
STUCKAT_CUDA_API double device_malloc_ms() STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void device_free(void* p) STUCKAT_CUDA_STUB;
// Grows the device memory pool that device_malloc draws from by an eighth of the free memory (at
// most 8 GiB) and keeps it, so the first allocations of new sizes in timed work are cheap.
// Called by start_runtime().
STUCKAT_CUDA_API void reserve_device_memory() STUCKAT_CUDA_STUB;
// Copy; each side is on the GPU when its flag is true. Synchronous, except host to device: that
// returns once the host bytes are staged (the source may then be reused) and the transfer runs in
// order with the queued GPU work.
STUCKAT_CUDA_API void copy(void* dst, bool dst_on_gpu, const void* src, bool src_on_gpu, size_t bytes) STUCKAT_CUDA_STUB;

// Host to device, as copy() does it (host_staging.cu): the bytes go through a ring of pinned
// staging buffers, so the call queues the transfer and returns without waiting for the GPU
// (from pageable memory the driver may wait for the queue first). The host waits only when the
// GPU is eight staged copies behind. STUCKAT_PINNED_STAGING=0, or set_pinned_staging(false),
// copies straight from the caller's memory instead.
STUCKAT_CUDA_API void copy_to_device(void* dst, const void* src, size_t bytes) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void set_pinned_staging(bool on) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API bool pinned_staging() STUCKAT_CUDA_STUB;
// The calling thread's host-to-device copies so far: how many, the host ms they took, and the
// part of that spent waiting for a staging buffer (the sweep trace reports its planner's).
struct UploadStats {
  long long count = 0;
  double ms = 0, waited_ms = 0;
  UploadStats operator-(const UploadStats& o) const { return {count - o.count, ms - o.ms, waited_ms - o.waited_ms}; }
};
STUCKAT_CUDA_API UploadStats upload_stats() STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
