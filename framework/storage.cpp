// Caching allocators: freed blocks are kept in per-size free lists and reused, because a
// training step allocates the same set of sizes every batch.
#include "framework/storage.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "base/error.h"
#include "kernels/cuda/memory.h"

namespace stuckat {
namespace {

constexpr size_t kAlignment = 64;  // one cache line; also enough for AVX-512 loads

size_t round_up(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

// Host blocks take the system's page size (no MADV_HUGEPAGE). Asking for 2 MiB pages made
// first touch slower on the virtual machines we run on: a huge page comes from free memory the
// host has taken back, and clearing it faults the host in 4 KiB at a time. VGG11 evaluating 1000
// images at batch 1000 right after another job (Intel Xeon VM, 2026-12-08): 453-718 images/s
// with 1.5-2.8 s of system time, 1052-1217 and 0.5 s without; only back-to-back runs, which find
// huge pages the last one freed, were faster with them (1314 against 1104-1217). The caching
// allocator below keeps blocks, so each is faulted in once per process either way.
void* system_alloc(size_t bytes, Device device) {
  if (device == Device::CPU) {
    void* p = std::aligned_alloc(kAlignment, bytes);
    if (!p) throw Error(fmt::format("out of host memory allocating {} bytes", bytes));
    return p;
  }
  return cuda::device_malloc(bytes);
}

void system_free(void* p, Device device) {
  if (device == Device::CPU) {
    std::free(p);
    return;
  }
  cuda::device_free(p);
}

class CachingAllocator {
 public:
  explicit CachingAllocator(Device device) : device_(device) {}
  ~CachingAllocator() { release(); }

  void* allocate(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        return p;
      }
    }
    try {
      return system_alloc(bytes, device_);
    } catch (const Error&) {
      // Out of memory while blocks of other sizes sit unused here (a sweep meets many sizes):
      // hand them back (on the GPU to the memory pool, which reuses them) and try once more.
      release();
      return system_alloc(bytes, device_);
    }
  }

  void deallocate(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_[bytes].push_back(p);
  }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& kv : free_)
      for (void* p : kv.second) system_free(p, device_);
    free_.clear();
  }

 private:
  Device device_;
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
};

CachingAllocator& allocator_for(Device device) {
  // Leaked on purpose: storages may be destroyed during static destruction.
  static CachingAllocator* cpu = new CachingAllocator(Device::CPU);
  static CachingAllocator* gpu = new CachingAllocator(Device::CUDA);
  return device == Device::CPU ? *cpu : *gpu;
}

}  // namespace

Storage::Storage(size_t bytes, Device device) : bytes_(round_up(bytes == 0 ? 1 : bytes)), device_(device) {
  data_ = allocator_for(device).allocate(bytes_);
}

Storage::~Storage() { allocator_for(device_).deallocate(data_, bytes_); }

void release_cached_memory() {
  allocator_for(Device::CPU).release();
  if (cuda_available()) allocator_for(Device::CUDA).release();
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device == Device::CPU && src_device == Device::CPU) {
    std::memcpy(dst, src, bytes);
    return;
  }
  cuda::copy(dst, dst_device == Device::CUDA, src, src_device == Device::CUDA, bytes);
}

}  // namespace stuckat
