// BLAS set-up (gemm.h). BLIS picks its kernels at its first call from the CPU it finds; for an
// AVX-512 CPU whose model it does not know (the virtualised Xeons this project runs on) it cannot
// tell how many FMA units there are and falls back to its AVX2 'haswell' kernels: sgemm at ~70
// GFLOP/s on one core of such a machine against ~135 with its 'skx' kernels (OpenBLAS 0.3.21's
// detection falls back further, to SSE3 'Prescott' kernels at ~20-28). So where the CPU has
// AVX-512 (F, DQ, BW, VL: what 'skx' uses) and the user has not chosen (BLIS_ARCH_TYPE), the
// 'skx' kernels are asked for before that first call; they are correct on any such CPU, the
// choice only tunes them for two FMA units.
#include "kernels/cpu/gemm.h"

#include <cstdlib>
#include <mutex>

#ifdef STUCKAT_WITH_BLAS
#include <blis.h>
#endif

namespace stuckat::cpu {

void ensure_single_threaded_blas() {
#ifdef STUCKAT_WITH_BLAS
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("BLIS_ARCH_TYPE") == nullptr && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
      setenv("BLIS_ARCH_TYPE", "skx", 0);
    bli_thread_set_num_threads(1);
  });
#endif
}

}  // namespace stuckat::cpu
