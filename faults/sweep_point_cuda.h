// One sweep point's faulted layer built on the GPU: the layer's clean 16-bit words (encoded once
// on the host) get one spec's stuck bits, drawn per weight exactly as add_faults draws them
// (fault_map.h), and are decoded straight into the device model's f32 weight. Per weight:
//   and = 0xFFFF, or = 0; add the draw's stuck bit (if the weight is faulty);
//   faulted = (word & and) | or;  weight = decode(faulted)
// which is FaultInjection::apply for a layer with no masks but this spec, bit for bit. The
// faulty/changed counts (LayerFaultStats) come back with it. Declared without CUDA headers;
// defined only when the CUDA backend is built.
#pragma once
#include <cstdint>

#include "faults/fault_map.h"
#include "faults/weight_format.h"

namespace stuckat {

struct PointFaultCounts {
  int64_t faulty = 0;   // weights with a stuck bit
  int64_t changed = 0;  // weights whose word the stuck bit changed
};

// words, clean (read only when d.nonzero_only), out: n entries in GPU memory; format resolved
// for the layer (resolve_layer_format); counters: two unsigned 64-bit values in GPU memory
// (overwritten). Synchronises to read the counts back.
PointFaultCounts fault_layer_cuda(const FaultDraw& d, const uint16_t* words, const float* clean, int64_t n,
                                  const WeightFormat& format, float* out, unsigned long long* counters);

}  // namespace stuckat
