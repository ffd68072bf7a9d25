// Device discovery: the one question about GPUs that every layer may ask, answered from the CUDA
// runtime's C API (no kernels needed), or "no" in a build without the CUDA backend.
#include "base/device.h"

#ifdef STUCKAT_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace stuckat {

bool cuda_available() { return cuda_unavailable_reason().empty(); }

std::string cuda_unavailable_reason() {
#ifdef STUCKAT_WITH_CUDA
  int n = 0;
  const cudaError_t status = cudaGetDeviceCount(&n);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    if (status == cudaErrorNoDevice) return "no CUDA device is visible";
    return std::string("the CUDA runtime failed: ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
  }
  return n > 0 ? std::string() : std::string("no CUDA device is visible");
#else
  return "this build has no CUDA backend";
#endif
}

}  // namespace stuckat
