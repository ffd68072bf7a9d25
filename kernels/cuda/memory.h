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
// returns once the host bytes are staged (the source may then be reused; the driver waits for
// the queue only if it must) and the transfer runs in order with the queued GPU work.
void copy(void* dst, bool dst_on_gpu, const void* src, bool src_on_gpu, size_t bytes);

}  // namespace stuckat::cuda
