// Caching allocators: freed blocks are kept in per-size free lists and reused, because a
// training step allocates the same set of sizes every batch.
#include "framework/storage.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "base/error.h"
#include "kernels/cuda/memory.h"

namespace stuckat {
namespace {

constexpr size_t kAlignment = 64;  // one cache line; also enough for AVX-512 loads

size_t round_up(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

// Host blocks of 2 MiB and more are rounded up to whole 2 MiB pages and asked to be backed by them
// (Linux transparent huge pages in "madvise" mode, the common default). Fresh memory is faulted in
// page by page on first touch; on a virtual machine a 4 KiB fault costs ~10 us, so a sweep's
// 10k-image activations (hundreds of MB) spent seconds of system time in faults before any
// arithmetic. The rounding wastes at most what it rounds; the caching allocator keeps the blocks.
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kHugeMin = kHugePage;

void* system_alloc(size_t bytes, Device device) {
  if (device == Device::CPU) {
    const bool huge = bytes >= kHugeMin;
    const size_t size = huge ? (bytes + kHugePage - 1) / kHugePage * kHugePage : bytes;
    void* p = std::aligned_alloc(huge ? kHugePage : kAlignment, size);
    if (!p) throw Error(fmt::format("out of host memory allocating {} bytes", bytes));
#ifdef __linux__
    if (huge) madvise(p, size, MADV_HUGEPAGE);  // advice only: without THP the pages stay small
#endif
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
