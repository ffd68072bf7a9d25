// Sparse weight-change updates of conv/linear outputs, parallel over images.
#include "faults/sweep_delta.h"

#include <algorithm>
#include <cstring>

namespace stuckat {

std::vector<WeightChange> weight_changes(const float* clean, const float* faulted, int64_t n) {
  std::vector<WeightChange> changes;
  for (int64_t i = 0; i < n; ++i)
    if (std::memcmp(&clean[i], &faulted[i], sizeof(float)) != 0) changes.push_back({i, faulted[i] - clean[i]});
  return changes;
}

void add_conv2d_weight_changes(const float* x, float* y, int64_t n, int64_t in, int64_t h, int64_t w, int64_t out,
                               int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t ho, int64_t wo,
                               const std::vector<WeightChange>& changes) {
  const int64_t nc = static_cast<int64_t>(changes.size());
#pragma omp parallel for schedule(static)
  for (int64_t img = 0; img < n; ++img) {
    for (int64_t c = 0; c < nc; ++c) {
      int64_t r = changes[static_cast<size_t>(c)].index;
      const float d = changes[static_cast<size_t>(c)].delta;
      const int64_t kx = r % kw;
      r /= kw;
      const int64_t ky = r % kh;
      r /= kh;
      const int64_t ci = r % in;
      const int64_t o = r / in;
      if (o >= out) continue;
      const float* xp = x + (img * in + ci) * h * w;
      float* yp = y + (img * out + o) * ho * wo;
      for (int64_t oy = 0; oy < ho; ++oy) {
        const int64_t iy = oy * stride - pad + ky;
        if (iy < 0 || iy >= h) continue;
        // ox with 0 <= ox * stride - pad + kx < w, so the inner loop has no branch and vectorises.
        const int64_t lo = std::max<int64_t>(0, (pad - kx + stride - 1) / stride);
        const int64_t last = w - 1 + pad - kx;  // largest ox * stride
        const int64_t hi = last < 0 ? 0 : std::min<int64_t>(wo, last / stride + 1);
        const int64_t base = iy * w - pad + kx;
        float* yrow = yp + oy * wo;
        for (int64_t ox = lo; ox < hi; ++ox) yrow[ox] += d * xp[base + ox * stride];
      }
    }
  }
}

void add_linear_weight_changes(const float* x, float* y, int64_t n, int64_t in, int64_t out,
                               const std::vector<WeightChange>& changes) {
  const int64_t nc = static_cast<int64_t>(changes.size());
#pragma omp parallel for schedule(static)
  for (int64_t img = 0; img < n; ++img) {
    const float* xp = x + img * in;
    float* yp = y + img * out;
    for (int64_t c = 0; c < nc; ++c) {
      const int64_t r = changes[static_cast<size_t>(c)].index;
      yp[r / in] += changes[static_cast<size_t>(c)].delta * xp[r % in];
    }
  }
}

}  // namespace stuckat
