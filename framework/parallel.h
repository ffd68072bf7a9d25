// Thread count for the CPU backend: one setting that drives OpenMP and the BLAS library.
#pragma once

namespace stuckat {

void set_num_threads(int n);  // n >= 1
int num_threads();

}  // namespace stuckat
