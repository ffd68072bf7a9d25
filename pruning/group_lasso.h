// Group lasso for structured sparsity learning (SSL, Wen et al. 2016) on one conv
// weight w: (out, in, kh, kw) row-major, k = kh * kw. The groups are the filters W[n,:,:,:]
// (out groups) and the channels W[:,c,:,:] (in groups); the penalty is
//   lambda_filter * sum_n ||W[n,:,:,:]||_2 + lambda_channel * sum_c ||W[:,c,:,:]||_2
// and its gradient, added to the loss gradient, is lambda * W_g / ||W_g|| on each group (0 for a
// group that is all zero: the subgradient of least norm).
#pragma once
#include <cstdint>
#include <vector>

namespace stuckat {

// grad += d(penalty)/dw (norms in double).
void group_lasso_add_grad_ref(const float* w, float* grad, int64_t out, int64_t in, int64_t k, float lambda_filter,
                              float lambda_channel);
void group_lasso_add_grad(const float* w, float* grad, int64_t out, int64_t in, int64_t k, float lambda_filter,
                          float lambda_channel);

// Sets to exactly 0 every filter whose L2 norm is <= filter_tol and then every channel whose
// norm is <= channel_tol (a negative tolerance disables that kind). After a step of size lr, a
// group within lr * lambda of 0 is one the penalty step would carry past 0, so the optimizer
// uses tol = lr * lambda: groups land on 0 instead of oscillating around it.
void snap_small_groups(float* w, int64_t out, int64_t in, int64_t k, double filter_tol, double channel_tol);

struct GroupZeros {
  std::vector<uint8_t> filter_zero;   // out flags: 1 when every weight of filter n is exactly 0
  std::vector<uint8_t> channel_zero;  // in flags: 1 when every weight of channel c is exactly 0
  int64_t zero_filters() const;
  int64_t zero_channels() const;
};
GroupZeros find_zero_groups(const float* w, int64_t out, int64_t in, int64_t k);

}  // namespace stuckat
