// Plain C++ declarations of the CUDA memory primitives, so host code can call them without
// including CUDA headers. Implemented in memory.cu.
#pragma once
#include <cstddef>

namespace stuckat::cuda {

int device_count();                  // 0 when no driver or no GPU
void* device_malloc(size_t bytes);   // throws CudaError
// How many device_malloc calls this process made (tests check that a warm training step makes none).
long long device_malloc_count();
// Host ms those calls took in all (the sweep trace reports a chunk's share).
double device_malloc_ms();
void device_free(void* p);
// Grows the device memory pool that device_malloc draws from by an eighth of the free memory (at
// most 8 GiB) and keeps it, so the first allocations of new sizes in timed work are cheap.
// Called by cuda_init().
void reserve_device_memory();
// Copy; each side is on the GPU when its flag is true. Synchronous, except host to device: that
// returns once the host bytes are staged (the source may then be reused) and the transfer runs in
// order with the queued GPU work.
void copy(void* dst, bool dst_on_gpu, const void* src, bool src_on_gpu, size_t bytes);

// Host to device, as copy() does it (host_staging.cu): the bytes go through a ring of pinned
// staging buffers, so the call queues the transfer and returns without waiting for the GPU
// (from pageable memory the driver may wait for the queue first). The host waits only when the
// GPU is eight staged copies behind. STUCKAT_PINNED_STAGING=0, or set_pinned_staging(false),
// copies straight from the caller's memory instead.
void copy_to_device(void* dst, const void* src, size_t bytes);
void set_pinned_staging(bool on);
bool pinned_staging();
// The calling thread's host-to-device copies so far: how many, the host ms they took, and the
// part of that spent waiting for a staging buffer (the sweep trace reports its planner's).
struct UploadStats {
  long long count = 0;
  double ms = 0, waited_ms = 0;
  UploadStats operator-(const UploadStats& o) const { return {count - o.count, ms - o.ms, waited_ms - o.waited_ms}; }
};
UploadStats upload_stats();

}  // namespace stuckat::cuda
