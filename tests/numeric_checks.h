// Shared by the kernel and op tests: conversions, central differences, closeness with a named
// element, and a guard that restores the thread count a test changed.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "framework/parallel.h"

namespace stuckat::test {

inline std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }
inline std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// d(loss)/d(param[i]) by central differences with step h, for every i. For ops linear in the
// parameter the quotient is exact up to rounding: with h = 1e-3 and |loss| ~ 10 that is
// ~1e-16 * 10 / 1e-3 = 1e-12.
template <typename Loss>
std::vector<double> finite_difference(std::vector<double>& param, Loss loss, double h = 1e-3) {
  std::vector<double> grad(param.size());
  for (size_t i = 0; i < param.size(); ++i) {
    const double keep = param[i];
    param[i] = keep + h;
    const double up = loss();
    param[i] = keep - h;
    const double down = loss();
    param[i] = keep;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

// |got - want| <= atol + rtol |want| element by element (NaN fails), naming the first element that is not.
inline void require_close(const std::vector<double>& got, const std::vector<double>& want, double atol, double rtol) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i])) continue;
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    REQUIRE(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]));
  }
}

inline void require_close(const std::vector<float>& got, const std::vector<double>& want, double atol, double rtol) {
  require_close(to_double(got), want, atol, rtol);
}

// Restores the thread count a test changed, even when a REQUIRE throws.
struct ThreadCountGuard {
  int saved = num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

}  // namespace stuckat::test
