// Device discovery: the one question about GPUs that every layer may ask, answered from the CUDA
// runtime's C API (no kernels needed), or "no" in a build without the CUDA backend.
#include "base/device.h"

#include "base/error.h"

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

int cuda_device_count() {
#ifdef STUCKAT_WITH_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
#else
  return 0;
#endif
}

void use_cuda_device(int index) {
#ifdef STUCKAT_WITH_CUDA
  const cudaError_t status = cudaSetDevice(index);
  if (status != cudaSuccess)
    throw Error(std::string("cudaSetDevice(") + std::to_string(index) + ") failed: " + cudaGetErrorString(status));
#else
  throw Error("use_cuda_device(" + std::to_string(index) + "): this build has no CUDA backend");
#endif
}

}  // namespace stuckat
