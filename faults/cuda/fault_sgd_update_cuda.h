// The CUDA version of the fused fault-aware update (fault_sgd_update.h): same arguments, all
// arrays in GPU memory, same results bit for bit (fault_sgd_update_cuda.cu is compiled with
// --fmad=false and uses fmaf exactly where the CPU code uses std::fma). Declared without CUDA
// headers so host code and tests can call it; defined only when the CUDA backend is built.
#pragma once
#include <cstdint>

#include "faults/fault_sgd_update.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat {

// Launches on the default stream and checks the launch (throws CudaError); does not synchronise.
STUCKAT_CUDA_API void fault_sgd_update_cuda(float* master, float* w_eff, const float* grad, float* momentum_buf, const uint8_t* prune,
                                            const uint16_t* and_mask, const uint16_t* or_mask, int64_t n, const FaultSgdConfig& c,
                                            bool first_step) STUCKAT_CUDA_STUB;

}  // namespace stuckat
