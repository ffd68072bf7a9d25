// The window rules shared by every pooling implementation (reference, fast CPU, CUDA), so they
// cannot drift apart: which element a max pool keeps, and PyTorch's adaptive bin edges.
#pragma once
#include <cmath>
#include <cstdint>

#include "base/host_device.h"

namespace stuckat::cpu {

// True when `candidate` replaces the current window maximum `best` (visited in row-major
// window order). Ties keep the first; NaN wins over numbers so a diverging run is not hidden
// by pooling (PyTorch propagates NaN too), and the first NaN stays.
template <typename T>
STUCKAT_HD inline bool max_pool_takes(T candidate, T best) {
  return candidate > best || (std::isnan(candidate) && !std::isnan(best));
}

// Adaptive pooling bin i of `out` bins over `in` inputs covers [floor(i*in/out), ceil((i+1)*in/out)).
STUCKAT_HD inline int64_t adaptive_bin_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
STUCKAT_HD inline int64_t adaptive_bin_end(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

}  // namespace stuckat::cpu
