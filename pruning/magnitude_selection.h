// Magnitude selection, the core of every magnitude pruning method: keep exactly `count` of the
// eligible weights, those with the largest |w|. Ties in |w| go to the lower index, so the
// result is deterministic and the count is exact even when many weights share a magnitude
// (quantised weights, zeros). The reference sorts; the fast version selects the threshold with
// nth_element in O(n) and fills the ties in index order; both give the same mask.
#pragma once
#include <cstdint>

namespace stuckat {

// w: n weights (finite); eligible: n flags (0 = already pruned, never kept) or null = all;
// 0 <= count <= number of eligible weights. Writes keep[i] = 1 for the chosen ones, 0 elsewhere.
void keep_largest_ref(const float* w, const uint8_t* eligible, int64_t n, int64_t count, uint8_t* keep);
void keep_largest(const float* w, const uint8_t* eligible, int64_t n, int64_t count, uint8_t* keep);

}  // namespace stuckat
