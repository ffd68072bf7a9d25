// Reference fault generator: one weight at a time, the rule spelt out with explicit masks.
#include "faults/fault_map.h"
#include "base/error.h"

namespace stuckat {

void add_faults_ref(const FaultDraw& d, int64_t first, int64_t n, const float* w, uint16_t* and_mask, uint16_t* or_mask) {
  STUCKAT_CHECK(!d.nonzero_only || w != nullptr, "target=nonzero needs the layer's weights");
  for (int64_t i = 0; i < n; ++i) {
    uint32_t words[4];
    philox_words(d.seed, d.stream, static_cast<uint64_t>(first + i), words);
    if (static_cast<uint64_t>(words[0]) >= d.rate_threshold) continue;  // not faulty
    if (d.nonzero_only && w[i] == 0.0f) continue;                       // pruned weight: left alone
    int bit = d.bit >= 0 ? d.bit : static_cast<int>(words[1] / (1u << 28));
    bool stuck_at_one = static_cast<uint64_t>(words[2]) < d.sa1_threshold;
    uint16_t bit_mask = static_cast<uint16_t>(1u << bit);
    if (stuck_at_one) {
      and_mask[i] |= bit_mask;  // a stuck-at-1 bit survives the AND (undoing an earlier SA0)...
      or_mask[i] |= bit_mask;   // ...and is forced on by the OR
    } else {
      and_mask[i] &= static_cast<uint16_t>(~bit_mask);  // forced off by the AND
      or_mask[i] &= static_cast<uint16_t>(~bit_mask);   // and no longer forced on
    }
  }
}

}  // namespace stuckat
