// Host-side thresholds for a fault draw, and the fast (OpenMP) mask generator.
#include "faults/fault_map.h"

#include <cmath>

#include "base/error.h"

namespace stuckat {
namespace {

// round(p * 2^32): the scaling is exact in double, so only the final rounding happens.
uint64_t probability_threshold(double p) { return static_cast<uint64_t>(std::nearbyint(p * 4294967296.0)); }

// Each weight costs one Philox block (~10 multiply rounds): worth threads from a few thousand up.
constexpr int64_t kParallelMin = 4096;

}  // namespace

int64_t FaultMap::count_faulty() const {
  int64_t n = 0;
  for (size_t i = 0; i < and_mask.size(); ++i) n += (and_mask[i] != 0xFFFF || or_mask[i] != 0) ? 1 : 0;
  return n;
}

FaultDraw make_fault_draw(const FaultSpec& spec, const std::string& layer) {
  STUCKAT_CHECK(spec.rate >= 0.0 && spec.rate <= 1.0, "fault rate {} outside [0, 1]", spec.rate);
  STUCKAT_CHECK(spec.sa1_fraction >= 0.0 && spec.sa1_fraction <= 1.0, "SA1 fraction {} outside [0, 1]", spec.sa1_fraction);
  STUCKAT_CHECK(spec.bit >= -1 && spec.bit <= 15, "bit {} outside 0..15", spec.bit);
  FaultDraw d;
  d.seed = spec.seed;
  d.stream = stream_id(layer.c_str());
  d.rate_threshold = probability_threshold(spec.rate);
  d.sa1_threshold = probability_threshold(spec.sa1_fraction);
  d.bit = spec.bit;
  d.nonzero_only = spec.nonzero_only;
  return d;
}

void add_faults(const FaultDraw& d, int64_t first, int64_t n, const float* w, uint16_t* and_mask, uint16_t* or_mask) {
  STUCKAT_CHECK(!d.nonzero_only || w != nullptr, "target=nonzero needs the layer's weights");
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    int bit;
    bool sa1;
    const bool faulty = draw_stuck_bit(d, static_cast<uint64_t>(first + i), &bit, &sa1);
    if (faulty && !(d.nonzero_only && w[i] == 0.0f)) add_stuck_bit(&and_mask[i], &or_mask[i], bit, sa1);
  }
}

}  // namespace stuckat
