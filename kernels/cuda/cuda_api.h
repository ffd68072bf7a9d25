// How the CUDA backend's host functions are declared, so that callers name them without #ifdef
// and an op reads as "the CPU call, the CUDA call":
//
//   STUCKAT_CUDA_API void linear_forward(const float* x, ...) STUCKAT_CUDA_STUB;
//
// With the CUDA backend this is a plain declaration, defined in a .cu file. In a CPU-only build
// the same line becomes an inline stub that throws stuckat::Error naming the function. The stub
// is never reached in practice: without the backend no tensor can live on a GPU (allocation
// refuses), so every device switch takes its CPU branch. The headers that use these macros hold
// plain C++ (no CUDA types), so g++ reads them in either build.
#pragma once
#include "base/error.h"

namespace stuckat {
[[noreturn]] inline void no_cuda_backend(const char* function) {
  throw Error(fmt::format("{}: this build of stuckat has no CUDA backend", function));
}
}  // namespace stuckat

#ifdef STUCKAT_WITH_CUDA
namespace stuckat {
inline constexpr bool kCudaBackend = true;
}
#define STUCKAT_CUDA_API
#define STUCKAT_CUDA_STUB
#else
namespace stuckat {
// For the few callers that do nothing, rather than refuse, without the backend (warm-up,
// counters in a trace): `if constexpr (kCudaBackend)`.
inline constexpr bool kCudaBackend = false;
}
// The stub's parameters are unused by design; the pragmas keep -Wextra quiet for it alone.
#define STUCKAT_CUDA_API \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wunused-parameter\"") inline
#define STUCKAT_CUDA_STUB \
  { ::stuckat::no_cuda_backend(__func__); } _Pragma("GCC diagnostic pop")
#endif
