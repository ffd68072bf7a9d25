// FaultMap: the stuck bits of one layer as two masks per weight, effective word =
// (word & and_mask[i]) | or_mask[i]; a fault-free weight has and = 0xFFFF, or = 0.
//
// Generation is counter-based: weight i of layer L under spec s is decided by
// philox_words(s.seed, stream_id(L), i) alone, so a configuration gives the same map on any
// device, thread count, order or shard. Of the four words:
//   w[0]  faulty iff w[0] < rate_threshold, rate_threshold = round(rate * 2^32) in [0, 2^32]
//         (a full 32-bit comparison: rate 1 faults every weight, rate 0 none);
//   w[1]  bit position when bit=random: w[1] >> 28 (uniform over 0..15);
//   w[2]  stuck-at-1 iff w[2] < sa1_threshold = round(P(SA1) * 2^32), else stuck-at-0;
//   w[3]  unused (reserved, e.g. for a second bit per weight).
// Both thresholds are computed on the host (make_fault_draw) so a GPU compares the same integers.
//
// Stacking: specs are applied in order and a later spec wins on the bits it touches: SA1 on bit b
// sets b in both masks, SA0 clears b in both, so a bit is never stuck at both values
// (or_mask & ~and_mask == 0 always). Two specs with the same seed on the same layer draw the
// same w[0..2] per weight, i.e. hit the same weights; give stacked specs different seeds for
// independent faults.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "faults/fault_spec.h"
#include "framework/random.h"

namespace stuckat {

struct FaultMap {
  std::vector<uint16_t> and_mask, or_mask;  // one per weight, in the layer's row-major order

  FaultMap() = default;
  explicit FaultMap(int64_t n) : and_mask(static_cast<size_t>(n), 0xFFFF), or_mask(static_cast<size_t>(n), 0) {}
  int64_t size() const { return static_cast<int64_t>(and_mask.size()); }
  int64_t count_faulty() const;  // weights with at least one stuck bit
};

// One spec resolved for one layer: plain data, passed by value to CPU loops and CUDA kernels.
struct FaultDraw {
  uint64_t seed = 0;
  uint64_t stream = 0;          // stream_id(layer name)
  uint64_t rate_threshold = 0;  // in [0, 2^32]
  uint64_t sa1_threshold = 0;   // in [0, 2^32]
  int bit = -1;                 // 0..15, -1 = random
  bool nonzero_only = false;
};

FaultDraw make_fault_draw(const FaultSpec& spec, const std::string& layer);

// The decision for weight `index`: returns whether it is faulty and, if so, which bit is stuck
// at which value. Pure function of (draw, index).
STUCKAT_HD inline bool draw_stuck_bit(const FaultDraw& d, uint64_t index, int* bit, bool* sa1) {
  uint32_t w[4];
  philox_words(d.seed, d.stream, index, w);
  *bit = d.bit >= 0 ? d.bit : static_cast<int>(w[1] >> 28);
  *sa1 = static_cast<uint64_t>(w[2]) < d.sa1_threshold;
  return static_cast<uint64_t>(w[0]) < d.rate_threshold;
}

// Adds one stuck bit to a weight's masks (the later-wins rule above).
STUCKAT_HD inline void add_stuck_bit(uint16_t* and_mask, uint16_t* or_mask, int bit, bool sa1) {
  const uint16_t b = static_cast<uint16_t>(1u << bit);
  if (sa1) {
    *and_mask = static_cast<uint16_t>(*and_mask | b);
    *or_mask = static_cast<uint16_t>(*or_mask | b);
  } else {
    *and_mask = static_cast<uint16_t>(*and_mask & ~b);
    *or_mask = static_cast<uint16_t>(*or_mask & ~b);
  }
}

// Adds the faults of one draw to weights [first, first + n) of a layer (a shard: pass the layer's
// arrays offset by `first`). and_mask/or_mask: n entries for those weights; w: their current f32
// values, read only when d.nonzero_only (may be null otherwise).
void add_faults_ref(const FaultDraw& d, int64_t first, int64_t n, const float* w, uint16_t* and_mask, uint16_t* or_mask);
void add_faults(const FaultDraw& d, int64_t first, int64_t n, const float* w, uint16_t* and_mask, uint16_t* or_mask);

}  // namespace stuckat
