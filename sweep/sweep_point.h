// One sweep point's faulted layer, built from the layer's clean 16-bit words: per weight,
//   and = 0xFFFF, or = 0; add the point's stuck bit if the draw faults the weight (fault_map.h);
//   faulted = (word & and) | or;  weight = decode(faulted)
// which is FaultInjection::apply for a layer with no masks but this one spec, bit for bit, with
// its faulty/changed counts. Runs where the tensors live: a CPU loop, or one CUDA kernel writing
// the device model's weights directly (sweep_point_cuda.h), so a sweep on the GPU moves no
// weights across the bus per point.
#pragma once
#include <cstdint>

#include <vector>

#include "faults/fault_map.h"
#include "sweep/sweep_delta.h"
#include "base/weight_format.h"
#include "base/word_codec.h"
#include "base/host_device.h"
#include "framework/tensor.h"

namespace stuckat::sweep {

struct PointFaultCounts {
  int64_t faulty = 0;   // weights with a stuck bit
  int64_t changed = 0;  // weights whose word the stuck bit changed
};

// Weight i's faulted word; *faulty tells whether the draw gave it a stuck bit. `clean` is its
// f32 value (read only for target=nonzero).
STUCKAT_HD inline uint16_t point_fault_word(const FaultDraw& d, uint64_t i, uint16_t word, float clean, bool* faulty) {
  uint16_t and_mask = 0xFFFF, or_mask = 0;
  int bit;
  bool sa1;
  *faulty = draw_stuck_bit(d, i, &bit, &sa1) && !(d.nonzero_only && clean == 0.0f);
  if (*faulty) add_stuck_bit(&and_mask, &or_mask, bit, sa1);
  return static_cast<uint16_t>((word & and_mask) | or_mask);
}

// words: the layer's clean words (I16, n); clean: its f32 weights (n); format: resolved for the
// layer (resolve_layer_format); out: n f32 values receiving the decoded faulted weights. All on
// one device.
PointFaultCounts fault_layer(const FaultDraw& d, const Tensor& words, const Tensor& clean, const WeightFormat& format,
                             const Tensor& out);
// fault_layer without waiting for the counts: they go to `counts` (I64, 2 entries: faulty,
// changed) on the tensors' device, so a caller that draws several points on the GPU reads all
// their counts back in one copy. When `changed_bits` is given (I32, ceil(n / 32) entries, same
// device), bit i % 32 of entry i / 32 is set exactly when weight i's word changed: a caller
// rebuilds the changed weights from it (changed_weights) instead of reading all n values back.
void fault_layer_into(const FaultDraw& d, const Tensor& words, const Tensor& clean, const WeightFormat& format,
                      const Tensor& out, const Tensor& counts, const Tensor& changed_bits = Tensor());

// fault_layer_into for several points of one layer: draw p writes row p of out (points, n),
// counts (points, 2) and changed_bits (points, ceil(n / 32)). On the GPU one launch per 64 points
// (instead of two per point).
void fault_layers_into(const std::vector<FaultDraw>& draws, const Tensor& words, const Tensor& clean,
                       const WeightFormat& format, const Tensor& out, const Tensor& counts, const Tensor& changed_bits);

// The weights whose value a point's faults changed (as weight_changes(quantized, faulted)), from
// fault_layer_into's changed_bits: the faulted word of each flagged weight is recomputed here
// (point_fault_word, a pure function of the draw and the index) and decoded. words, clean,
// quantized: the layer's clean words, f32 weights and decoded clean words, on the CPU.
std::vector<WeightChange> changed_weights(const FaultDraw& d, const uint32_t* changed_bits, const Tensor& words,
                                          const Tensor& clean, const Tensor& quantized, const WeightFormat& format);

}  // namespace stuckat::sweep
