// The growing scratch buffer (scratch.h).
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/memory.h"
#include "kernels/cuda/scratch.h"

namespace stuckat::cuda {

void* scratch(size_t bytes) {
  static void* buffer = nullptr;
  static size_t capacity = 0;
  if (bytes > capacity) {
    if (buffer) device_free(buffer);  // freed after the kernels still using it (stream order)
    buffer = nullptr;
    capacity = 0;
    const size_t grown = bytes + bytes / 4;  // some headroom: the next layer is often a bit larger
    buffer = device_malloc(grown);
    capacity = grown;
  }
  return buffer;
}

}  // namespace stuckat::cuda
