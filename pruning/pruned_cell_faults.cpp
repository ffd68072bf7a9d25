// Decoding each faulty pruned cell's word.
#include "pruning/pruned_cell_faults.h"

#include <algorithm>
#include <cmath>

#include "base/word_codec.h"

namespace stuckat {

PrunedCellFaults count_pruned_cell_faults(const uint8_t* keep, const uint16_t* and_mask, const uint16_t* or_mask,
                                          int64_t n, const WeightFormat& format) {
  PrunedCellFaults s;
  bool saturated = false;
  const uint16_t zero = encode_word(0.0f, format.kind, format.step(), &saturated);
  for (int64_t i = 0; i < n; ++i) {
    if (keep[i] != 0) continue;
    ++s.pruned;
    if (and_mask[i] == 0xFFFF && or_mask[i] == 0) continue;
    ++s.faulty;
    if (or_mask[i] != 0) ++s.stuck_at_1;
    const float v = decode_word(static_cast<uint16_t>((zero & and_mask[i]) | or_mask[i]), format.kind, format.step());
    if (std::isnan(v)) {
      ++s.nan;
      ++s.nonzero;
      continue;
    }
    if (v != 0.0f) {
      ++s.nonzero;
      s.max_abs = std::max(s.max_abs, static_cast<double>(std::fabs(v)));
      s.sum_abs += std::fabs(v);
    }
  }
  return s;
}

nlohmann::json pruned_cell_faults_json(const PrunedCellFaults& s) {
  return {{"pruned", s.pruned},         {"pruned_faulty", s.faulty},
          {"pruned_stuck_at_1", s.stuck_at_1}, {"pruned_nonzero", s.nonzero},
          {"pruned_max_abs", std::isinf(s.max_abs) ? nlohmann::json("inf") : nlohmann::json(s.max_abs)},
          {"pruned_mean_abs", s.nonzero > s.nan ? s.sum_abs / static_cast<double>(s.nonzero - s.nan) : 0.0},
          {"pruned_nan", s.nan}};
}

}  // namespace stuckat
