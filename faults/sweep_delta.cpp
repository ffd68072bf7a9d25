// Sparse weight-change updates of conv/linear outputs, parallel over images.
#include "faults/sweep_delta.h"

#include <algorithm>
#include <cstring>
#include <vector>

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
  // Each change split once into (output channel, input channel, ky, kx), not per image.
  struct Tap {
    int64_t o, ci, ky, kx;
    float d;
  };
  std::vector<Tap> taps;
  for (const WeightChange& c : changes) {
    int64_t r = c.index;
    const int64_t kx = r % kw;
    r /= kw;
    const int64_t ky = r % kh;
    r /= kh;
    if (r / in < out) taps.push_back({r / in, r % in, ky, kx, c.delta});
  }
  const int64_t nt = static_cast<int64_t>(taps.size());
  const Tap* tp = taps.data();
#pragma omp parallel for schedule(static)
  for (int64_t img = 0; img < n; ++img) {
    for (int64_t c = 0; c < nt; ++c) {
      const int64_t o = tp[c].o, ci = tp[c].ci, ky = tp[c].ky, kx = tp[c].kx;
      const float d = tp[c].d;
      const float* xp = x + (img * in + ci) * h * w;
      float* yp = y + (img * out + o) * ho * wo;
      // ox with 0 <= ox * stride - pad + kx < w, so the inner loop has no branch and vectorises.
      const int64_t lo = std::max<int64_t>(0, (pad - kx + stride - 1) / stride);
      const int64_t last = w - 1 + pad - kx;  // largest ox * stride
      const int64_t hi = last < 0 ? 0 : std::min<int64_t>(wo, last / stride + 1);
      for (int64_t oy = 0; oy < ho; ++oy) {
        const int64_t iy = oy * stride - pad + ky;
        if (iy < 0 || iy >= h) continue;
        const int64_t base = iy * w - pad + kx;
        float* yrow = yp + oy * wo;
        for (int64_t ox = lo; ox < hi; ++ox) yrow[ox] += d * xp[base + ox * stride];
      }
    }
  }
}

void add_linear_weight_changes(const float* x, float* y, int64_t n, int64_t in, int64_t out,
                               const std::vector<WeightChange>& changes) {
  // (output, input, delta) per change, split once rather than per image.
  const int64_t nc = static_cast<int64_t>(changes.size());
  std::vector<int32_t> row(changes.size()), col(changes.size());
  std::vector<float> delta(changes.size());
  for (size_t c = 0; c < changes.size(); ++c) {
    row[c] = static_cast<int32_t>(changes[c].index / in);
    col[c] = static_cast<int32_t>(changes[c].index % in);
    delta[c] = changes[c].delta;
  }
  const int32_t* rp = row.data();
  const int32_t* cp = col.data();
  const float* dp = delta.data();
#pragma omp parallel for schedule(static)
  for (int64_t img = 0; img < n; ++img) {
    const float* xp = x + img * in;
    float* yp = y + img * out;
    for (int64_t c = 0; c < nc; ++c) yp[rp[c]] += dp[c] * xp[cp[c]];
  }
}

}  // namespace stuckat
