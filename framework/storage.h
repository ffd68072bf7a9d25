// A block of memory on one device, shared by every tensor that views it. Blocks come from a
// caching allocator per device so that a training step does not call malloc/cudaMalloc.
#pragma once
#include <cstddef>
#include <memory>

#include "base/device.h"

namespace stuckat {

class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

// Returns every cached, unused block to the system (tests use it to check for leaks).
void release_cached_memory();

// Copies bytes between devices (either side may be CPU or CUDA); synchronous.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

}  // namespace stuckat
