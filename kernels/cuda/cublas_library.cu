// cuBLAS opened on first use (cublas_library.cuh).
#include "kernels/cuda/cublas_library.cuh"

#include <dlfcn.h>

#include <string>

#include "kernels/cuda/cuda_check.h"

#ifndef STUCKAT_CUBLAS_PATH
#define STUCKAT_CUBLAS_PATH ""
#endif

namespace stuckat::cuda {
namespace {

template <typename F>
void load_symbol(void* lib, const std::string& file, const char* name, F* fn) {
  *fn = reinterpret_cast<F>(dlsym(lib, name));
  if (*fn == nullptr)
    throw CudaError(
        fmt::format("cuBLAS library {} has no {}: not the cuBLAS {} this build expects", file, name, CUBLAS_VER_MAJOR));
}

CublasLibrary open_cublas() {
  std::string file = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  void* lib = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::string reason = lib == nullptr ? dlerror() : "";
  const std::string built_with = STUCKAT_CUBLAS_PATH;
  if (lib == nullptr && !built_with.empty()) {
    file = built_with;
    lib = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) reason += "; " + std::string(dlerror());
  }
  if (lib == nullptr)
    throw CudaError(fmt::format("cannot open cuBLAS ({}); install the CUDA Toolkit's cuBLAS {} or add its folder to "
                                "LD_LIBRARY_PATH",
                                reason, CUBLAS_VER_MAJOR));
  CublasLibrary l;  // never closed: kernels may run during static destruction
  load_symbol(lib, file, "cublasCreate_v2", &l.create);
  load_symbol(lib, file, "cublasSetMathMode", &l.set_math_mode);
  load_symbol(lib, file, "cublasSgemm_v2", &l.sgemm);
  load_symbol(lib, file, "cublasGetStatusString", &l.status_string);
  return l;
}

}  // namespace

const CublasLibrary& cublas_library() {
  static const CublasLibrary l = open_cublas();
  return l;
}

const char* cublas_status_string(cublasStatus_t s) { return cublas_library().status_string(s); }

}  // namespace stuckat::cuda
