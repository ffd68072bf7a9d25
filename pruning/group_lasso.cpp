// The group-lasso gradient in two passes (all group norms, then one sweep that adds both
// terms), snapping near-zero groups to 0, and finding all-zero groups.
#include <cmath>
#include <vector>

#include "pruning/group_lasso.h"

namespace stuckat {
namespace {

void group_norms(const float* w, int64_t out, int64_t in, int64_t k, std::vector<double>& filt,
                 std::vector<double>& chan) {
  filt.assign(static_cast<size_t>(out), 0.0);
  chan.assign(static_cast<size_t>(in), 0.0);
  for (int64_t n = 0; n < out; ++n)
    for (int64_t c = 0; c < in; ++c)
      for (int64_t j = 0; j < k; ++j) {
        const double v = w[(n * in + c) * k + j];
        filt[static_cast<size_t>(n)] += v * v;
        chan[static_cast<size_t>(c)] += v * v;
      }
  for (double& x : filt) x = std::sqrt(x);
  for (double& x : chan) x = std::sqrt(x);
}

}  // namespace

void group_lasso_add_grad(const float* w, float* grad, int64_t out, int64_t in, int64_t k, float lambda_filter,
                          float lambda_channel) {
  std::vector<double> filt, chan;
  group_norms(w, out, in, k, filt, chan);
  // The two terms are added one after the other, as the reference does, so the float sums agree.
  if (lambda_filter != 0.0f)
    for (int64_t n = 0; n < out; ++n) {
      const double norm = filt[static_cast<size_t>(n)];
      if (norm == 0) continue;
      for (int64_t i = n * in * k; i < (n + 1) * in * k; ++i) grad[i] += static_cast<float>(lambda_filter * w[i] / norm);
    }
  if (lambda_channel != 0.0f)
    for (int64_t n = 0; n < out; ++n)
      for (int64_t c = 0; c < in; ++c) {
        const double norm = chan[static_cast<size_t>(c)];
        if (norm == 0) continue;
        for (int64_t i = (n * in + c) * k; i < (n * in + c + 1) * k; ++i)
          grad[i] += static_cast<float>(lambda_channel * w[i] / norm);
      }
}

void snap_small_groups(float* w, int64_t out, int64_t in, int64_t k, double filter_tol, double channel_tol) {
  std::vector<double> filt, chan;
  group_norms(w, out, in, k, filt, chan);
  if (filter_tol >= 0)
    for (int64_t n = 0; n < out; ++n)
      if (filt[static_cast<size_t>(n)] <= filter_tol)
        for (int64_t i = n * in * k; i < (n + 1) * in * k; ++i) w[i] = 0.0f;
  if (channel_tol < 0) return;
  group_norms(w, out, in, k, filt, chan);  // zeroed filters shrink the channel norms
  for (int64_t c = 0; c < in; ++c)
    if (chan[static_cast<size_t>(c)] <= channel_tol)
      for (int64_t n = 0; n < out; ++n)
        for (int64_t i = (n * in + c) * k; i < (n * in + c + 1) * k; ++i) w[i] = 0.0f;
}

int64_t GroupZeros::zero_filters() const {
  int64_t z = 0;
  for (uint8_t f : filter_zero) z += f;
  return z;
}

int64_t GroupZeros::zero_channels() const {
  int64_t z = 0;
  for (uint8_t f : channel_zero) z += f;
  return z;
}

GroupZeros find_zero_groups(const float* w, int64_t out, int64_t in, int64_t k) {
  GroupZeros g;
  g.filter_zero.assign(static_cast<size_t>(out), 1);
  g.channel_zero.assign(static_cast<size_t>(in), 1);
  for (int64_t n = 0; n < out; ++n)
    for (int64_t c = 0; c < in; ++c)
      for (int64_t j = 0; j < k; ++j)
        if (w[(n * in + c) * k + j] != 0.0f) {
          g.filter_zero[static_cast<size_t>(n)] = 0;
          g.channel_zero[static_cast<size_t>(c)] = 0;
        }
  return g;
}

}  // namespace stuckat
