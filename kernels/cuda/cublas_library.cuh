// cuBLAS, opened on first use (dlopen) instead of linked. A process linked to cuBLAS runs its
// library constructors at start-up, GPU or not: 0.1-0.25 s and ~100 MB of page faults on the
// project's 2-core VM, paid by every `stuckat` command and test binary that never touches a GPU.
// CUDA-only header: the cuBLAS calls of the kernels go through cublas_library().
#pragma once
#include <cublas_v2.h>

namespace stuckat::cuda {

// The cuBLAS entry points the kernels use, with cuBLAS's own signatures.
struct CublasLibrary {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
};

// Opens libcublas.so.<major of the headers built against> (the loader's search: LD_LIBRARY_PATH,
// the binary's run path, the system's), else the file found at build time, once per process.
// Throws CudaError naming the file and the loader's reason when neither opens or a symbol is
// missing.
const CublasLibrary& cublas_library();

}  // namespace stuckat::cuda
