// The thread count of the CPU kernels (OpenMP); BLAS stays single-threaded inside them (kernels/cpu/gemm.h).
#include "framework/parallel.h"

#include <omp.h>

#include "base/error.h"

namespace stuckat {
namespace {
int g_threads = 0;
}

void set_num_threads(int n) {
  STUCKAT_CHECK(n >= 1, "thread count must be >= 1, got {}", n);
  g_threads = n;
  omp_set_num_threads(n);
}

int num_threads() { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

}  // namespace stuckat
