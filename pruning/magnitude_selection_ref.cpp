// The readable reference of magnitude selection (the test oracle): sort every eligible index by
// (|w| descending, index ascending) and keep the first `count`.
#include <algorithm>
#include <cmath>
#include <vector>

#include "base/error.h"
#include "pruning/magnitude_selection.h"

namespace stuckat {

void keep_largest_ref(const float* w, const uint8_t* eligible, int64_t n, int64_t count, uint8_t* keep) {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < n; ++i)
    if (eligible == nullptr || eligible[i] != 0) idx.push_back(i);
  STUCKAT_CHECK(count >= 0 && count <= static_cast<int64_t>(idx.size()), "keep {} of {} eligible weights", count,
                idx.size());
  std::sort(idx.begin(), idx.end(), [w](int64_t a, int64_t b) {
    const float ma = std::fabs(w[a]), mb = std::fabs(w[b]);
    return ma != mb ? ma > mb : a < b;
  });
  for (int64_t i = 0; i < n; ++i) keep[i] = 0;
  for (int64_t j = 0; j < count; ++j) keep[idx[static_cast<size_t>(j)]] = 1;
}

}  // namespace stuckat
