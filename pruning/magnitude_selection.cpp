// Fast magnitude selection: the count-th largest magnitude t by nth_element, then every weight
// above t and the first (count - #above) weights equal to t in index order.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "base/error.h"
#include "pruning/magnitude_selection.h"

namespace stuckat {

void keep_largest(const float* w, const uint8_t* eligible, int64_t n, int64_t count, uint8_t* keep) {
  std::vector<float> mags;
  mags.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    if (eligible == nullptr || eligible[i] != 0) mags.push_back(std::fabs(w[i]));
  const int64_t m = static_cast<int64_t>(mags.size());
  STUCKAT_CHECK(count >= 0 && count <= m, "keep {} of {} eligible weights", count, m);
  std::fill(keep, keep + n, uint8_t{0});
  if (count == 0) return;
  std::nth_element(mags.begin(), mags.begin() + (count - 1), mags.end(), std::greater<float>());
  const float t = mags[static_cast<size_t>(count - 1)];
  int64_t above = 0;
  for (int64_t i = 0; i < n; ++i)
    if ((eligible == nullptr || eligible[i] != 0) && std::fabs(w[i]) > t) {
      keep[i] = 1;
      ++above;
    }
  int64_t ties = count - above;
  for (int64_t i = 0; i < n && ties > 0; ++i)
    if ((eligible == nullptr || eligible[i] != 0) && std::fabs(w[i]) == t) {
      keep[i] = 1;
      --ties;
    }
}

}  // namespace stuckat
