// Device discovery: the one question about GPUs that every layer may ask, answered from the CUDA
// runtime's C API (no kernels needed), or "no" in a build without the CUDA backend.
#include "base/device.h"

#ifdef STUCKAT_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace stuckat {

bool cuda_available() {
#ifdef STUCKAT_WITH_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return false;
  }
  return n > 0;
#else
  return false;
#endif
}

}  // namespace stuckat
