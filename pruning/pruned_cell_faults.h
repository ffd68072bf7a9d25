// Stuck-at faults on the pruned cells of a sparse layer. A pruned weight is a crossbar cell
// holding the word of 0 (faults/fault_sgd_update.h), and 0 has no 1 bits in any format, so a
// stuck-at-0 bit leaves it 0 but a stuck-at-1 bit makes it nonzero: with SA1 on bit b of Q4.11
// the pruned weight reads 2^(b-11), and on the sign bit (15) -16. This counts those cells and
// what they read, for the reports of eval and train (target=nonzero draws no faults there).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>

#include "base/weight_format.h"

namespace stuckat {

struct PrunedCellFaults {
  int64_t pruned = 0;         // cells with keep == 0
  int64_t faulty = 0;         // pruned cells with any stuck bit
  int64_t stuck_at_1 = 0;     // pruned cells with a bit stuck at 1
  int64_t nonzero = 0;        // pruned cells whose faulty word decodes to a value other than 0
  double max_abs = 0.0;       // largest |value| among them (inf for an fp16 inf word)
  double sum_abs = 0.0;       // sum of |value| (NaN words excluded)
  int64_t nan = 0;            // pruned cells whose faulty word is NaN (fp16)
};

// keep, and_mask, or_mask: n entries of one layer; format: the layer's resolved format.
PrunedCellFaults count_pruned_cell_faults(const uint8_t* keep, const uint16_t* and_mask, const uint16_t* or_mask,
                                          int64_t n, const WeightFormat& format);

nlohmann::json pruned_cell_faults_json(const PrunedCellFaults& s);

}  // namespace stuckat
