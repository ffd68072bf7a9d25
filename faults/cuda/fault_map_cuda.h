// The CUDA fault-mask generator: add_faults (fault_map.h) with one thread per weight, the same
// counter-based draw (draw_stuck_bit, add_stuck_bit are host/device functions), so a layer's
// masks are bit-identical on the CPU and the GPU. Declared without CUDA headers; defined only
// when the CUDA backend is built.
#pragma once
#include <cstdint>

#include "faults/fault_map.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat {

// and_mask, or_mask: n entries in GPU memory for weights [first, first + n) of the layer;
// w: their f32 values in GPU memory, read only when d.nonzero_only (may be null otherwise).
// Launches on the default stream and checks the launch (throws CudaError); does not synchronise.
STUCKAT_CUDA_API void add_faults_cuda(const FaultDraw& d, int64_t first, int64_t n, const float* w, uint16_t* and_mask,
                                      uint16_t* or_mask) STUCKAT_CUDA_STUB;

}  // namespace stuckat
