// fault_layer (sweep_point.h) on the GPU: one thread per weight running point_fault_word, the
// decoded weight written straight into the device model. Declared without CUDA headers; defined
// only when the CUDA backend is built.
#pragma once
#include <cstdint>

#include "faults/fault_map.h"
#include "sweep/sweep_point.h"
#include "base/weight_format.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::sweep {

// words, clean (read only when d.nonzero_only), out: n entries in GPU memory; format resolved
// for the layer (resolve_layer_format); counters: two unsigned 64-bit values in GPU memory
// (overwritten with faulty, changed); changed_bits: ceil(n / 32) words in GPU memory or null
// (see fault_layer_into). Launches only: the caller reads the counters back.
STUCKAT_CUDA_API void fault_layer_cuda(const FaultDraw& d, const uint16_t* words, const float* clean, int64_t n,
                                       const WeightFormat& format, float* out, unsigned long long* counters, uint32_t* changed_bits) STUCKAT_CUDA_STUB;

// Several points' draws in one launch (fault_layers_into): at most kStackedDrawsMax a launch.
constexpr int kStackedDrawsMax = 64;
struct StackedDraws {
  FaultDraw d[kStackedDrawsMax];
};
// out: points rows of n; counters: 2 per point; changed_bits: ceil(n / 32) per point or null.
STUCKAT_CUDA_API void fault_layers_cuda(const StackedDraws& draws, int64_t points, const uint16_t* words, const float* clean, int64_t n,
                                        const WeightFormat& format, float* out, unsigned long long* counters, uint32_t* changed_bits) STUCKAT_CUDA_STUB;

// Loads these kernels now, for every word format (kernels/cuda/preload.cuh).
STUCKAT_CUDA_API void preload_fault_layer_kernels() STUCKAT_CUDA_STUB;

}  // namespace stuckat::sweep
