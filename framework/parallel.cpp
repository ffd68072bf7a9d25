// Keeps OpenMP and OpenBLAS on the same thread count so they do not oversubscribe the cores.
#include "framework/parallel.h"

#include <omp.h>

#include "framework/error.h"

#ifdef STUCKAT_WITH_BLAS
extern "C" void openblas_set_num_threads(int num_threads);
#endif

namespace stuckat {
namespace {
int g_threads = 0;
}

void set_num_threads(int n) {
  STUCKAT_CHECK(n >= 1, "thread count must be >= 1, got {}", n);
  g_threads = n;
  omp_set_num_threads(n);
  // Our kernels parallelise over the batch with OpenMP and call BLAS on per-thread blocks, so
  // BLAS itself stays single-threaded (nested threading would oversubscribe the cores).
#ifdef STUCKAT_WITH_BLAS
  openblas_set_num_threads(1);
#endif
}

int num_threads() { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

}  // namespace stuckat
