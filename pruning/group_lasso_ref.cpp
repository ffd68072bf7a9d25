// The readable reference of the group-lasso gradient (the test oracle): one group at a time.
#include <cmath>

#include "pruning/group_lasso.h"

namespace stuckat {

void group_lasso_add_grad_ref(const float* w, float* grad, int64_t out, int64_t in, int64_t k, float lambda_filter,
                              float lambda_channel) {
  if (lambda_filter != 0.0f)
    for (int64_t n = 0; n < out; ++n) {
      double sq = 0;
      for (int64_t c = 0; c < in; ++c)
        for (int64_t j = 0; j < k; ++j) sq += static_cast<double>(w[(n * in + c) * k + j]) * w[(n * in + c) * k + j];
      if (sq == 0) continue;
      const double norm = std::sqrt(sq);
      for (int64_t c = 0; c < in; ++c)
        for (int64_t j = 0; j < k; ++j) {
          const int64_t i = (n * in + c) * k + j;
          grad[i] += static_cast<float>(lambda_filter * w[i] / norm);
        }
    }
  if (lambda_channel != 0.0f)
    for (int64_t c = 0; c < in; ++c) {
      double sq = 0;
      for (int64_t n = 0; n < out; ++n)
        for (int64_t j = 0; j < k; ++j) sq += static_cast<double>(w[(n * in + c) * k + j]) * w[(n * in + c) * k + j];
      if (sq == 0) continue;
      const double norm = std::sqrt(sq);
      for (int64_t n = 0; n < out; ++n)
        for (int64_t j = 0; j < k; ++j) {
          const int64_t i = (n * in + c) * k + j;
          grad[i] += static_cast<float>(lambda_channel * w[i] / norm);
        }
    }
}

}  // namespace stuckat
