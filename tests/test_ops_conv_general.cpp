// ONNX-general conv2d, max and average pooling (framework/ops/conv_general.h over
// kernels/cpu/conv2d_general.h and kernels/cpu/pool2d_general.h): hand-computed cases for each
// feature, the references' gradients against finite differences, the fast float paths against the
// double references, the ops through autograd, the hand-over to conv2d / max_pool2d / avg_pool2d,
// thread-count independence, and argument errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/conv_general.h"
#include "framework/parallel.h"
#include "framework/random.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/conv2d_general.h"
#include "kernels/cpu/pool2d_general.h"
#include "tests/numeric_checks.h"
#include "tests/gpu_available.h"

using namespace stuckat;
using namespace stuckat::test;
using cpu::ConvGeneralShape;
using cpu::PoolGeneralShape;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

template <typename T>
std::vector<T> random_vector(int64_t n, RandomStream& rng) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& e : v) e = static_cast<T>(rng.next_uniform(-1.0f, 1.0f));
  return v;
}

// Distinct values (a shuffled ramp with steps of 0.01), so that no max-pool window holds two values
// closer than a finite-difference step and the argmax cannot flip while a test probes it.
std::vector<double> distinct_values(int64_t n, uint64_t stream) {
  const std::vector<int64_t> order = random_permutation(n, 77, stream);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = 0.01 * static_cast<double>(order[i]) - 0.005 * static_cast<double>(n);
  return v;
}

ConvGeneralParams conv_params(int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb, int64_t pr, int64_t dh = 1,
                              int64_t dw = 1, int64_t groups = 1) {
  ConvGeneralParams p;
  p.stride_h = sh, p.stride_w = sw, p.pad_top = pt, p.pad_left = pl, p.pad_bottom = pb, p.pad_right = pr;
  p.dilation_h = dh, p.dilation_w = dw, p.groups = groups;
  return p;
}

PoolGeneralParams pool_params(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt = 0, int64_t pl = 0,
                              int64_t pb = 0, int64_t pr = 0) {
  PoolGeneralParams p;
  p.kernel_h = kh, p.kernel_w = kw, p.stride_h = sh, p.stride_w = sw;
  p.pad_top = pt, p.pad_left = pl, p.pad_bottom = pb, p.pad_right = pr;
  return p;
}

// A conv problem: the kernel shape plus the op's parameters it came from.
struct ConvCase {
  ConvGeneralShape s;
  ConvGeneralParams p;
};

ConvCase conv_case(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out, int64_t kh, int64_t kw,
                   const ConvGeneralParams& p) {
  return {ConvGeneralShape{n, c_in, h, w, c_out, kh, kw, p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.pad_bottom,
                           p.pad_right, p.dilation_h, p.dilation_w, p.groups},
          p};
}

PoolGeneralShape pool_shape(int64_t n, int64_t c, int64_t h, int64_t w, const PoolGeneralParams& p) {
  return {n,           c,          h,           w,           p.kernel_h,   p.kernel_w,
          p.stride_h,  p.stride_w, p.pad_top,   p.pad_left,  p.pad_bottom, p.pad_right,
          p.dilation_h, p.dilation_w, p.ceil_mode, p.count_include_pad};
}

std::string describe(const ConvGeneralShape& s) {
  return fmt::format("n={} c_in={} h={} w={} c_out={} k={}x{} stride={}x{} pads=({},{},{},{}) dilation={}x{} groups={}",
                     s.n, s.c_in, s.h, s.w, s.c_out, s.kh, s.kw, s.stride_h, s.stride_w, s.pad_top, s.pad_left,
                     s.pad_bottom, s.pad_right, s.dilation_h, s.dilation_w, s.groups);
}

std::string describe(const PoolGeneralShape& s) {
  return fmt::format("n={} c={} h={} w={} k={}x{} stride={}x{} pads=({},{},{},{}) dilation={}x{} ceil={} incl={}", s.n,
                     s.c, s.h, s.w, s.kh, s.kw, s.stride_h, s.stride_w, s.pad_top, s.pad_left, s.pad_bottom,
                     s.pad_right, s.dilation_h, s.dilation_w, s.ceil_mode, s.count_include_pad);
}

Tensor leaf(const std::vector<float>& v, const Shape& shape, bool grad = true) {
  Tensor t = Tensor::from_vector(v, shape);
  if (grad) t.set_requires_grad(true);
  return t;
}

std::vector<float> iota(int64_t n, float first = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = first + static_cast<float>(i);
  return v;
}

// The conv the op computes, with the float reference kernel on the same inputs (a hand case must
// hold for both: the op runs the fast path).
std::vector<float> conv_ref(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>* b,
                            const ConvCase& c) {
  std::vector<float> y(static_cast<size_t>(c.s.n * c.s.c_out * c.s.h_out() * c.s.w_out()));
  cpu::conv2d_general_forward_ref(x.data(), w.data(), b ? b->data() : nullptr, y.data(), c.s);
  return y;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// (1) Hand-computed cases, one per feature. Small integers: every value is exact in float.

TEST_CASE("conv2d_general hand-computed cases", "[ops]") {
  SECTION("asymmetric pads (top 1, right 1) and a bias") {
    // Padded input (3 x 4): 0 0 0 0 / 1 2 3 0 / 4 5 6 0; kernel 1 2 / 3 4.
    const std::vector<float> x{1, 2, 3, 4, 5, 6}, w{1, 2, 3, 4}, b{0.5f};
    const ConvCase c = conv_case(1, 1, 2, 3, 1, 2, 2, conv_params(1, 1, 1, 0, 0, 1));
    Tensor y = conv2d_general(leaf(x, {1, 1, 2, 3}, false), leaf(w, {1, 1, 2, 2}, false), leaf(b, {1}, false), c.p);
    REQUIRE(y.shape() == Shape{1, 1, 2, 3});
    const std::vector<float> want{11.5f, 18.5f, 9.5f, 37.5f, 47.5f, 21.5f};
    REQUIRE(y.to_vector() == want);
    REQUIRE(conv_ref(x, w, &b, c) == want);
  }
  SECTION("stride 2 with padding on the bottom and right only") {
    // 1..9 in 3x3, 2x2 kernel of ones: windows rows {0,1},{2,pad} x columns {0,1},{2,pad}.
    const std::vector<float> x = iota(9), w{1, 1, 1, 1};
    const ConvCase c = conv_case(1, 1, 3, 3, 1, 2, 2, conv_params(2, 2, 0, 0, 1, 1));
    Tensor y = conv2d_general(leaf(x, {1, 1, 3, 3}, false), leaf(w, {1, 1, 2, 2}, false), Tensor(), c.p);
    REQUIRE(y.shape() == Shape{1, 1, 2, 2});
    const std::vector<float> want{12, 9, 15, 9};
    REQUIRE(y.to_vector() == want);
    REQUIRE(conv_ref(x, w, nullptr, c) == want);
  }
  SECTION("dilation 2 (and 2x1)") {
    // 1..9 in 3x3, kernel 1 2 / 3 4. Dilation 2x2 taps the corners: 1*1 + 2*3 + 3*7 + 4*9.
    const std::vector<float> x = iota(9), w{1, 2, 3, 4};
    const ConvCase c = conv_case(1, 1, 3, 3, 1, 2, 2, conv_params(1, 1, 0, 0, 0, 0, 2, 2));
    Tensor y = conv2d_general(leaf(x, {1, 1, 3, 3}, false), leaf(w, {1, 1, 2, 2}, false), Tensor(), c.p);
    REQUIRE(y.shape() == Shape{1, 1, 1, 1});
    REQUIRE(y.to_vector() == std::vector<float>{64});
    // Dilation 2 down, 1 across: rows {0, 2}, columns {ox, ox+1}.
    const ConvCase c2 = conv_case(1, 1, 3, 3, 1, 2, 2, conv_params(1, 1, 0, 0, 0, 0, 2, 1));
    Tensor y2 = conv2d_general(leaf(x, {1, 1, 3, 3}, false), leaf(w, {1, 1, 2, 2}, false), Tensor(), c2.p);
    REQUIRE(y2.shape() == Shape{1, 1, 1, 2});
    REQUIRE(y2.to_vector() == std::vector<float>{58, 68});
    REQUIRE(conv_ref(x, w, nullptr, c2) == std::vector<float>{58, 68});
  }
  SECTION("groups 2") {
    // Channels 1 2 | 3 4; filters 0, 1 read channels 0-1, filters 2, 3 read channels 2-3.
    const std::vector<float> x{1, 2, 3, 4}, w{1, 10, 2, 0, 100, 1000, 0, -1};
    const ConvCase c = conv_case(1, 4, 1, 1, 4, 1, 1, conv_params(1, 1, 0, 0, 0, 0, 1, 1, 2));
    Tensor y = conv2d_general(leaf(x, {1, 4, 1, 1}, false), leaf(w, {4, 2, 1, 1}, false), Tensor(), c.p);
    REQUIRE(y.shape() == Shape{1, 4, 1, 1});
    const std::vector<float> want{21, 2, 4300, -4};
    REQUIRE(y.to_vector() == want);
    REQUIRE(conv_ref(x, w, nullptr, c) == want);
  }
  SECTION("depthwise, and depthwise with a channel multiplier") {
    // Channel 0: 1 2 / 3 4 through 1 0 / 0 1; channel 1: 5 6 / 7 8 through ones, bias -1.
    const std::vector<float> x = iota(8), w{1, 0, 0, 1, 1, 1, 1, 1}, b{0, -1};
    const ConvCase c = conv_case(1, 2, 2, 2, 2, 2, 2, conv_params(1, 1, 0, 0, 0, 0, 1, 1, 2));
    Tensor y = conv2d_general(leaf(x, {1, 2, 2, 2}, false), leaf(w, {2, 1, 2, 2}, false), leaf(b, {2}, false), c.p);
    REQUIRE(y.to_vector() == std::vector<float>{5, 25});
    // Multiplier 2: filters 0, 1 read channel 0, filters 2, 3 read channel 1; 1x1 kernels.
    const ConvCase m = conv_case(1, 2, 1, 2, 4, 1, 1, conv_params(1, 1, 0, 0, 0, 0, 1, 1, 2));
    const std::vector<float> xm{1, 2, 3, 4}, wm{1, 10, 100, 1000};
    Tensor ym = conv2d_general(leaf(xm, {1, 2, 1, 2}, false), leaf(wm, {4, 1, 1, 1}, false), Tensor(), m.p);
    REQUIRE(ym.shape() == Shape{1, 4, 1, 2});
    REQUIRE(ym.to_vector() == std::vector<float>{1, 2, 10, 20, 300, 400, 3000, 4000});
  }
}

TEST_CASE("pool2d_general hand-computed cases", "[ops]") {
  SECTION("max pool ignores padding (padded cells are -inf, not 0)") {
    const std::vector<float> x{-1, -2, -3, -4};
    Tensor y = max_pool2d_general(leaf(x, {1, 1, 2, 2}, false), pool_params(2, 2, 1, 1, 1, 1, 1, 1));
    REQUIRE(y.shape() == Shape{1, 1, 3, 3});
    REQUIRE(y.to_vector() == std::vector<float>{-1, -1, -2, -1, -1, -2, -3, -3, -4});
  }
  SECTION("max pool with dilation 2 taps the corners") {
    const std::vector<float> x{1, 9, 2, 3, 8, 4, 5, 6, 7};
    PoolGeneralParams p = pool_params(2, 2, 1, 1);
    p.dilation_h = p.dilation_w = 2;
    REQUIRE(max_pool2d_general(leaf(x, {1, 1, 3, 3}, false), p).to_vector() == std::vector<float>{7});
  }
  SECTION("ceil_mode adds the partial windows; count_include_pad never counts their overhang") {
    const std::vector<float> x = iota(9);
    PoolGeneralParams p = pool_params(2, 2, 2, 2);
    REQUIRE(max_pool2d_general(leaf(x, {1, 1, 3, 3}, false), p).to_vector() == std::vector<float>{5});
    p.ceil_mode = true;
    Tensor ym = max_pool2d_general(leaf(x, {1, 1, 3, 3}, false), p);
    REQUIRE(ym.shape() == Shape{1, 1, 2, 2});
    REQUIRE(ym.to_vector() == std::vector<float>{5, 6, 8, 9});
    for (bool incl : {false, true}) {
      p.count_include_pad = incl;
      REQUIRE(avg_pool2d_general(leaf(x, {1, 1, 3, 3}, false), p).to_vector() == std::vector<float>{3, 4.5f, 7.5f, 9});
    }
  }
  SECTION("ceil_mode drops a window that would start in the end padding") {
    // Width 3, kernel 2, stride 2, pads 1 + 1: ceil((3 + 2 - 2) / 2) + 1 = 3 windows, but the third
    // would start at column 3, inside the right pad, so there are 2: [-1, 0] and [1, 2].
    PoolGeneralParams p = pool_params(1, 2, 1, 2, 0, 1, 0, 1);
    p.ceil_mode = true;
    Tensor y = max_pool2d_general(leaf({1, 2, 3}, {1, 1, 1, 3}, false), p);
    REQUIRE(y.shape() == Shape{1, 1, 1, 2});
    REQUIRE(y.to_vector() == std::vector<float>{1, 3});
    REQUIRE(cpu::pool_output_size(3, 2, 2, 1, 1, 1, true) == 2);
    REQUIRE(cpu::pool_output_size(3, 2, 2, 1, 1, 1, false) == 2);
    REQUIRE(cpu::pool_output_size(4, 2, 2, 1, 0, 1, true) == 3);
  }
  SECTION("average pool: count_include_pad both ways") {
    // 1 2 / 3 4 padded on the top and left, 2x2 windows, stride 1.
    const std::vector<float> x{1, 2, 3, 4};
    PoolGeneralParams p = pool_params(2, 2, 1, 1, 1, 1, 0, 0);
    Tensor excl = avg_pool2d_general(leaf(x, {1, 1, 2, 2}, false), p);
    REQUIRE(excl.to_vector() == std::vector<float>{1, 1.5f, 2, 2.5f});
    p.count_include_pad = true;
    Tensor incl = avg_pool2d_general(leaf(x, {1, 1, 2, 2}, false), p);
    REQUIRE(incl.to_vector() == std::vector<float>{0.25f, 0.75f, 1, 2.5f});
    // With ceil_mode: 1 2 3 4 in a row, kernel 2, stride 2, left pad 1. Windows [-1, 0], [1, 2],
    // [3, 4]; column 4 lies past the (zero) right pad, so it never counts.
    PoolGeneralParams q = pool_params(1, 2, 1, 2, 0, 1, 0, 0);
    q.ceil_mode = true;
    REQUIRE(avg_pool2d_general(leaf({1, 2, 3, 4}, {1, 1, 1, 4}, false), q).to_vector() ==
            std::vector<float>{1, 2.5f, 4});
    q.count_include_pad = true;
    REQUIRE(avg_pool2d_general(leaf({1, 2, 3, 4}, {1, 1, 1, 4}, false), q).to_vector() ==
            std::vector<float>{0.5f, 2.5f, 4});
  }
  SECTION("max pool gradients: ties go to the first in window order, NaN wins") {
    PoolGeneralParams p = pool_params(2, 2, 1, 1, 0, 0, 0, 1);  // windows: columns {0,1} and {1,pad}
    Tensor x = leaf({5, 5, 5, 5}, {1, 1, 2, 2});
    Tensor y = max_pool2d_general(x, p);
    REQUIRE(y.to_vector() == std::vector<float>{5, 5});
    run_backward(y, Tensor::full(y.shape(), 1.0f));
    REQUIRE(x.grad().to_vector() == std::vector<float>{1, 1, 0, 0});

    Tensor xn = leaf({1, kNaN, 3, 2}, {1, 1, 2, 2});
    Tensor yn = max_pool2d_general(xn, p);
    const std::vector<float> got = yn.to_vector();
    REQUIRE((std::isnan(got[0]) && std::isnan(got[1])));
    run_backward(yn, Tensor::from_vector(std::vector<float>{1, 10}, yn.shape()));
    REQUIRE(xn.grad().to_vector() == std::vector<float>{0, 11, 0, 0});
  }
  SECTION("a max pool window holding only padding gives -inf and no gradient") {
    // Width 1 with dilation 2 and pads 1 + 1: the window's taps are columns -1 and 1.
    PoolGeneralParams p = pool_params(1, 2, 1, 1, 0, 1, 0, 1);
    p.dilation_w = 2;
    Tensor x = leaf({3}, {1, 1, 1, 1});
    Tensor y = max_pool2d_general(x, p);
    REQUIRE(y.to_vector() == std::vector<float>{-kInf});
    run_backward(y, Tensor::full(y.shape(), 1.0f));
    REQUIRE(x.grad().to_vector() == std::vector<float>{0});
  }
}

// ---------------------------------------------------------------------------------------------
// (2) The double references' gradients against central finite differences.

TEST_CASE("conv2d_general reference backward matches finite differences", "[ops]") {
  // The conv is linear in each parameter, so the difference quotient is exact up to rounding:
  // with h = 1e-3 and |loss| ~ 10 the rounding error is ~1e-16 * 10 / 1e-3 = 1e-12.
  const std::vector<ConvCase> cases = {
      conv_case(2, 2, 5, 6, 3, 3, 2, conv_params(1, 2, 1, 0, 2, 1)),              // asymmetric pads, stride 1x2
      conv_case(1, 4, 7, 6, 4, 3, 3, conv_params(2, 1, 1, 1, 0, 2, 1, 2, 2)),     // groups 2, dilation 1x2
      conv_case(2, 3, 6, 5, 6, 2, 3, conv_params(1, 1, 0, 1, 1, 1, 2, 1, 3)),     // depthwise, multiplier 2
      conv_case(1, 2, 7, 7, 2, 3, 3, conv_params(2, 2, 2, 2, 2, 2, 2, 2, 2)),     // depthwise, stride and dilation 2
      conv_case(2, 6, 4, 5, 4, 1, 1, conv_params(1, 1, 0, 0, 1, 0, 1, 1, 2)),     // 1x1 with a bottom pad
  };
  for (const ConvCase& c : cases)
    for (bool with_bias : {true, false}) {
      const ConvGeneralShape& s = c.s;
      INFO(describe(s) << " bias=" << with_bias);
      RandomStream rng(7, 1);
      auto x = random_vector<double>(s.n * s.c_in * s.h * s.w, rng);
      auto w = random_vector<double>(s.c_out * s.c_in_group() * s.kh * s.kw, rng);
      auto b = random_vector<double>(s.c_out, rng);
      const int64_t y_size = s.n * s.c_out * s.h_out() * s.w_out();
      auto r = random_vector<double>(y_size, rng);  // the loss is sum(y * r), so dy = r
      std::vector<double> y(static_cast<size_t>(y_size));
      auto loss = [&] {
        cpu::conv2d_general_forward_ref<double>(x.data(), w.data(), with_bias ? b.data() : nullptr, y.data(), s);
        return dot(y, r);
      };
      std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
      cpu::conv2d_general_backward_ref<double>(x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(), s);
      require_close(dx, finite_difference(x, loss, 1e-3), 1e-8, 1e-8);
      require_close(dw, finite_difference(w, loss, 1e-3), 1e-8, 1e-8);
      if (with_bias) require_close(db, finite_difference(b, loss, 1e-3), 1e-8, 1e-8);
    }
}

TEST_CASE("pool2d_general reference backward matches finite differences", "[ops]") {
  // Step 1e-6, tolerance 1e-6 * (1 + |numeric|), as for the plain pools: both pools are piecewise
  // linear, and distinct_values keeps every max-pool window's values 0.01 apart, far more than a step.
  struct Case {
    PoolGeneralParams p;
    bool ceil_mode, count_include_pad;  // the latter for the average pool only
    int64_t dilation;                   // > 1: the max pool only
  };
  const std::vector<Case> cases = {
      {pool_params(3, 2, 2, 1, 1, 0, 2, 1), false, false, 1}, {pool_params(3, 2, 2, 1, 1, 0, 2, 1), true, true, 1},
      {pool_params(2, 3, 2, 2, 0, 1, 1, 2), true, false, 1},  {pool_params(3, 3, 3, 2, 2, 1, 0, 2), false, true, 1},
      {pool_params(2, 2, 1, 2, 1, 1, 0, 0), true, false, 2},
  };
  uint64_t stream = 1;
  for (const Case& c : cases)
    for (bool is_max : {true, false}) {
      if (!is_max && c.dilation != 1) continue;
      PoolGeneralParams p = c.p;
      p.ceil_mode = c.ceil_mode, p.count_include_pad = c.count_include_pad && !is_max;
      p.dilation_h = p.dilation_w = c.dilation;
      const PoolGeneralShape s = pool_shape(2, 2, 7, 6, p);
      INFO(describe(s) << (is_max ? " max" : " avg"));
      const int64_t out = s.n * s.c * s.h_out() * s.w_out();
      REQUIRE(out > 0);
      auto x = distinct_values(s.n * s.c * s.h * s.w, stream++);
      RandomStream rng(9, stream++);
      auto r = random_vector<double>(out, rng);
      std::vector<double> y(static_cast<size_t>(out)), dx(x.size());
      std::vector<int32_t> argmax(static_cast<size_t>(out));
      auto loss = [&] {
        if (is_max)
          cpu::max_pool2d_general_forward_ref<double>(x.data(), y.data(), argmax.data(), s);
        else
          cpu::avg_pool2d_general_forward_ref<double>(x.data(), y.data(), s);
        return dot(y, r);
      };
      loss();
      for (double v : y) REQUIRE(std::isfinite(v));  // every window holds an input cell
      if (is_max)
        cpu::max_pool2d_general_backward_ref<double>(r.data(), argmax.data(), dx.data(), s);
      else
        cpu::avg_pool2d_general_backward_ref<double>(r.data(), dx.data(), s);
      const std::vector<double> numeric = finite_difference(x, loss, 1e-6);
      for (size_t i = 0; i < dx.size(); ++i) {
        INFO("element " << i << ": analytic " << dx[i] << ", numeric " << numeric[i]);
        REQUIRE(std::abs(dx[i] - numeric[i]) <= 1e-6 * (1.0 + std::abs(numeric[i])));
      }
    }
}

// ---------------------------------------------------------------------------------------------
// (3) Fast float paths against the references, on thread counts 1 and 3 (bit-identical).
//
// Tolerance, as for conv2d (tests/test_kernels_dense.cpp): every element is a float sum of
// `terms` products of values in [-1, 1]; atol = 1e-6 * terms (~16 eps per term) covers float
// accumulation, while a wrong, missing or doubled tap moves an element by O(0.1..1).

namespace {

void check_conv_fast(const ConvGeneralShape& s, uint64_t seed) {
  INFO(describe(s));
  ThreadCountGuard guard;
  RandomStream rng(seed, 3);
  const int64_t p = s.h_out() * s.w_out(), k = s.c_in_group() * s.kh * s.kw;
  auto x = random_vector<float>(s.n * s.c_in * s.h * s.w, rng);
  auto w = random_vector<float>(s.c_out * k, rng);
  auto b = random_vector<float>(s.c_out, rng);
  auto dy = random_vector<float>(s.n * s.c_out * p, rng);
  const auto xd = to_double(x), wd = to_double(w), bd = to_double(b), dyd = to_double(dy);

  std::vector<double> y_ref(dy.size()), y_ref_nb(dy.size());
  cpu::conv2d_general_forward_ref<double>(xd.data(), wd.data(), bd.data(), y_ref.data(), s);
  cpu::conv2d_general_forward_ref<double>(xd.data(), wd.data(), nullptr, y_ref_nb.data(), s);
  std::vector<double> dx_ref(x.size()), dw_ref(w.size()), db_ref(b.size());
  cpu::conv2d_general_backward_ref<double>(xd.data(), wd.data(), dyd.data(), dx_ref.data(), dw_ref.data(),
                                           db_ref.data(), s);

  std::vector<float> first[5];  // y, y without bias, dx, dw, db on one thread
  for (int threads : {1, 3}) {
    INFO("threads=" << threads);
    set_num_threads(threads);
    // Prefilled with NaN: every output must be overwritten, never accumulated into.
    std::vector<float> y(dy.size(), kNaN), y_nb(dy.size(), kNaN);
    cpu::conv2d_general_forward(x.data(), w.data(), b.data(), y.data(), s);
    cpu::conv2d_general_forward(x.data(), w.data(), nullptr, y_nb.data(), s);
    require_close(y, y_ref, 1e-6 * k, 1e-5);
    require_close(y_nb, y_ref_nb, 1e-6 * k, 1e-5);
    std::vector<float> dx(x.size(), kNaN), dw(w.size(), kNaN), db(b.size(), kNaN);
    cpu::conv2d_general_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), s);
    require_close(dx, dx_ref, 1e-6 * s.c_out_group() * s.kh * s.kw, 1e-5);
    require_close(dw, dw_ref, 1e-6 * s.n * p, 1e-5);
    require_close(db, db_ref, 1e-6 * s.n * p, 1e-5);
    // dx and db are optional; dW must not depend on whether they were asked for.
    std::vector<float> dw_only(w.size(), kNaN);
    cpu::conv2d_general_backward(x.data(), w.data(), dy.data(), nullptr, dw_only.data(), nullptr, s);
    REQUIRE(dw_only == dw);
    if (threads == 1) {
      first[0] = y, first[1] = y_nb, first[2] = dx, first[3] = dw, first[4] = db;
    } else {
      REQUIRE(y == first[0]);
      REQUIRE(y_nb == first[1]);
      REQUIRE(dx == first[2]);
      REQUIRE(dw == first[3]);
      REQUIRE(db == first[4]);
    }
  }
}

// The fast pools run the reference's loops per plane: equal to the float reference bit for bit;
// the double reference bounds the float rounding of the averages (a sum of at most 9 values in
// [-1, 1] and one division: 1e-6 is ~8 eps per term).
void check_pool_fast(const PoolGeneralShape& s, bool is_max, uint64_t seed) {
  INFO(describe(s) << (is_max ? " max" : " avg"));
  ThreadCountGuard guard;
  RandomStream rng(seed, 4);
  const int64_t out = s.n * s.c * s.h_out() * s.w_out();
  auto x = random_vector<float>(s.n * s.c * s.h * s.w, rng);
  auto dy = random_vector<float>(out, rng);
  std::vector<float> y_ref(static_cast<size_t>(out)), dx_ref(x.size());
  std::vector<int32_t> arg_ref(static_cast<size_t>(out));
  std::vector<double> yd(static_cast<size_t>(out));
  if (is_max) {
    cpu::max_pool2d_general_forward_ref(x.data(), y_ref.data(), arg_ref.data(), s);
    cpu::max_pool2d_general_backward_ref(dy.data(), arg_ref.data(), dx_ref.data(), s);
  } else {
    cpu::avg_pool2d_general_forward_ref(x.data(), y_ref.data(), s);
    cpu::avg_pool2d_general_backward_ref(dy.data(), dx_ref.data(), s);
    const auto xd = to_double(x);
    cpu::avg_pool2d_general_forward_ref(xd.data(), yd.data(), s);
    require_close(y_ref, yd, 1e-6, 1e-6);
  }
  for (int threads : {1, 3}) {
    INFO("threads=" << threads);
    set_num_threads(threads);
    std::vector<float> y(static_cast<size_t>(out), kNaN), dx(x.size(), kNaN);
    std::vector<int32_t> arg(static_cast<size_t>(out), -7);
    if (is_max) {
      cpu::max_pool2d_general_forward(x.data(), y.data(), arg.data(), s);
      REQUIRE(arg == arg_ref);
      cpu::max_pool2d_general_backward(dy.data(), arg.data(), dx.data(), s);
      std::vector<float> y_values_only(static_cast<size_t>(out), kNaN);
      cpu::max_pool2d_general_forward(x.data(), y_values_only.data(), nullptr, s);
      REQUIRE(y_values_only == y_ref);
    } else {
      cpu::avg_pool2d_general_forward(x.data(), y.data(), s);
      cpu::avg_pool2d_general_backward(dy.data(), dx.data(), s);
    }
    REQUIRE(y == y_ref);
    REQUIRE(dx == dx_ref);
  }
}

}  // namespace

TEST_CASE("conv2d_general fast path matches the reference on any thread count", "[ops]") {
  // {n, c_in, h, w, c_out, kh, kw} and (strides, pads top/left/bottom/right, dilations, groups).
  const std::vector<ConvCase> cases = {
      conv_case(2, 4, 9, 7, 6, 3, 3, conv_params(1, 1, 1, 0, 2, 1, 1, 1, 2)),    // groups 2, asymmetric pads
      conv_case(2, 5, 8, 9, 5, 3, 3, conv_params(2, 2, 1, 1, 1, 1, 1, 1, 5)),    // depthwise, stride 2
      conv_case(1, 3, 7, 6, 6, 3, 2, conv_params(1, 1, 0, 1, 1, 0, 2, 1, 3)),    // depthwise x2, dilation 2x1
      conv_case(2, 3, 10, 11, 4, 3, 3, conv_params(1, 1, 2, 2, 2, 2, 2, 2, 1)),  // dilation 2, one group
      conv_case(1, 3, 40, 33, 4, 3, 3, conv_params(1, 1, 0, 1, 1, 0)),           // forward row blocks (n = 1)
      conv_case(2, 32, 6, 5, 8, 3, 3, conv_params(1, 1, 1, 1, 1, 1, 1, 1, 2)),   // backward channel blocks
      conv_case(2, 8, 5, 5, 4, 1, 1, conv_params(2, 1, 0, 0, 0, 0, 1, 1, 4)),    // 1x1, 2 channels per group
      conv_case(1, 2, 2, 3, 2, 4, 4, conv_params(1, 1, 1, 2, 1, 1)),             // kernel larger than the image
      conv_case(1, 64, 6, 6, 128, 3, 3, conv_params(1, 1, 1, 1, 0, 0)),          // GEMMs large enough for the BLAS
      conv_case(3, 2, 12, 12, 2, 5, 5, conv_params(3, 2, 2, 1, 0, 3, 1, 2, 2)),  // depthwise 5x5, stride 3x2
      // The vectorised depthwise forward (channels of one image in full vectors, stride phases as
      // zero-bordered planes): 40 channels = full vectors and a partial one, MobileNet-like shapes.
      conv_case(3, 40, 8, 8, 40, 3, 3, conv_params(1, 1, 1, 1, 1, 1, 1, 1, 40)),     // stride 1, pad 1
      conv_case(2, 40, 9, 7, 40, 3, 3, conv_params(2, 2, 1, 1, 1, 1, 1, 1, 40)),     // stride 2, odd sizes
      conv_case(2, 24, 10, 10, 24, 3, 3, conv_params(1, 1, 2, 2, 2, 2, 2, 2, 24)),  // dilation 2
      conv_case(2, 17, 2, 2, 17, 3, 3, conv_params(2, 2, 1, 1, 1, 1, 1, 1, 17)),    // 2x2 planes, stride 2
      conv_case(4, 33, 1, 1, 33, 3, 3, conv_params(1, 1, 1, 1, 1, 1, 1, 1, 33)),    // 1x1 planes: only the centre tap
      conv_case(2, 20, 6, 5, 40, 3, 3, conv_params(1, 1, 0, 1, 2, 1, 1, 1, 20)),    // multiplier 2, asymmetric pads
  };
  uint64_t seed = 100;
  for (const ConvCase& c : cases) check_conv_fast(c.s, seed++);
  RandomStream pick(2025, 5);
  for (int trial = 0; trial < 30; ++trial) {
    ConvGeneralShape s{};
    s.n = 1 + pick.next_below(3);
    s.groups = 1 + pick.next_below(3);
    s.c_in = s.groups * (1 + pick.next_below(3));
    s.c_out = s.groups * (1 + pick.next_below(3));
    s.h = 1 + pick.next_below(10);
    s.w = 1 + pick.next_below(10);
    s.stride_h = 1 + pick.next_below(3), s.stride_w = 1 + pick.next_below(3);
    s.dilation_h = 1 + pick.next_below(2), s.dilation_w = 1 + pick.next_below(2);
    s.pad_top = pick.next_below(3), s.pad_left = pick.next_below(3);
    s.pad_bottom = pick.next_below(3), s.pad_right = pick.next_below(3);
    // The largest kernel that fits the padded input: dilation*(k-1) + 1 <= padded size, at most 4.
    const int64_t fit_h = (s.h + s.pad_top + s.pad_bottom - 1) / s.dilation_h + 1;
    const int64_t fit_w = (s.w + s.pad_left + s.pad_right - 1) / s.dilation_w + 1;
    s.kh = 1 + pick.next_below(static_cast<uint32_t>(std::min<int64_t>(4, fit_h)));
    s.kw = 1 + pick.next_below(static_cast<uint32_t>(std::min<int64_t>(4, fit_w)));
    REQUIRE((s.h_out() >= 1 && s.w_out() >= 1));
    check_conv_fast(s, 200 + trial);
  }
}

TEST_CASE("pool2d_general fast path equals the reference on any thread count", "[ops]") {
  // Large enough for the parallel path (>= 2^15 input elements), and small shapes of every kind.
  PoolGeneralParams big = pool_params(3, 2, 2, 2, 1, 0, 1, 1);
  big.ceil_mode = true;
  check_pool_fast(pool_shape(2, 8, 48, 47, big), true, 1);
  check_pool_fast(pool_shape(2, 8, 48, 47, big), false, 2);
  big.count_include_pad = true;
  check_pool_fast(pool_shape(2, 8, 48, 47, big), false, 3);
  RandomStream pick(2026, 6);
  for (int trial = 0; trial < 60; ++trial) {
    PoolGeneralParams p;
    p.kernel_h = 1 + pick.next_below(3), p.kernel_w = 1 + pick.next_below(3);
    p.stride_h = 1 + pick.next_below(3), p.stride_w = 1 + pick.next_below(3);
    p.pad_top = pick.next_below(static_cast<uint32_t>(p.kernel_h));
    p.pad_bottom = pick.next_below(static_cast<uint32_t>(p.kernel_h));
    p.pad_left = pick.next_below(static_cast<uint32_t>(p.kernel_w));
    p.pad_right = pick.next_below(static_cast<uint32_t>(p.kernel_w));
    p.ceil_mode = pick.next_below(2) == 1;
    const bool is_max = pick.next_below(2) == 1;
    if (is_max) {  // dilation for max pools only, count_include_pad for average pools only
      p.dilation_h = 1 + pick.next_below(2), p.dilation_w = 1 + pick.next_below(2);
    } else {
      p.count_include_pad = pick.next_below(2) == 1;
    }
    const PoolGeneralShape s = pool_shape(1 + pick.next_below(2), 1 + pick.next_below(3), 3 + pick.next_below(8),
                                          3 + pick.next_below(8), p);
    if (s.h_out() < 1 || s.w_out() < 1) continue;
    check_pool_fast(s, is_max, 300 + trial);
  }
}

// ---------------------------------------------------------------------------------------------
// (4) The ops: gradients through the graph, the hand-over to the plain ops, thread counts, errors.

// Tolerance as in tests/test_autograd.cpp: the graph runs the float kernels, the reference the same
// formulas in double; float sums of at most a few dozen terms stay well inside 1e-4 relative.
TEST_CASE("conv2d_general and the general pools through autograd match the references", "[ops]") {
  const ConvCase c = conv_case(2, 4, 7, 6, 6, 3, 2, conv_params(2, 1, 1, 0, 2, 1, 1, 2, 2));
  const ConvGeneralShape& s = c.s;
  RandomStream rng(31, 1);
  const Shape w_shape{s.c_out, s.c_in_group(), s.kh, s.kw};
  auto xv = random_vector<float>(s.n * s.c_in * s.h * s.w, rng), wv = random_vector<float>(shape_numel(w_shape), rng);
  auto bv = random_vector<float>(s.c_out, rng), dyv = random_vector<float>(s.n * s.c_out * s.h_out() * s.w_out(), rng);
  Tensor x = leaf(xv, {s.n, s.c_in, s.h, s.w}), w = leaf(wv, w_shape), b = leaf(bv, {s.c_out});
  Tensor y = conv2d_general(x, w, b, c.p);
  REQUIRE(y.shape() == Shape{s.n, s.c_out, s.h_out(), s.w_out()});
  REQUIRE(std::string(y.grad_fn()->name()) == "Conv2dGeneralBackward");
  run_backward(y, Tensor::from_vector(dyv, y.shape()));
  const auto xd = to_double(xv), wd = to_double(wv), bd = to_double(bv), dyd = to_double(dyv);
  std::vector<double> yr(dyv.size()), dx(xv.size()), dw(wv.size()), db(bv.size());
  cpu::conv2d_general_forward_ref(xd.data(), wd.data(), bd.data(), yr.data(), s);
  cpu::conv2d_general_backward_ref(xd.data(), wd.data(), dyd.data(), dx.data(), dw.data(), db.data(), s);
  require_close(y.to_vector(), yr, 1e-5, 1e-4);
  require_close(x.grad().to_vector(), dx, 1e-5, 1e-4);
  require_close(w.grad().to_vector(), dw, 1e-5, 1e-4);
  require_close(b.grad().to_vector(), db, 1e-5, 1e-4);

  // Only the weight needs a gradient, no bias: the input gets none.
  Tensor x2 = leaf(xv, x.shape(), false), w2 = leaf(wv, w.shape());
  run_backward(conv2d_general(x2, w2, Tensor(), c.p), Tensor::from_vector(dyv, y.shape()));
  REQUIRE_FALSE(x2.grad().defined());
  REQUIRE(w2.grad().to_vector() == w.grad().to_vector());

  for (bool is_max : {true, false}) {
    PoolGeneralParams p = pool_params(3, 2, 2, 1, 1, 0, 2, 1);
    p.ceil_mode = true, p.count_include_pad = !is_max;
    const PoolGeneralShape ps = pool_shape(2, 3, 7, 6, p);
    auto pxv = to_float(distinct_values(2 * 3 * 7 * 6, 40 + is_max));
    Tensor px = leaf(pxv, {2, 3, 7, 6});
    Tensor py = is_max ? max_pool2d_general(px, p) : avg_pool2d_general(px, p);
    REQUIRE(py.shape() == Shape{2, 3, ps.h_out(), ps.w_out()});
    auto pdy = random_vector<float>(py.numel(), rng);
    run_backward(py, Tensor::from_vector(pdy, py.shape()));
    const auto pxd = to_double(pxv), pdyd = to_double(pdy);
    std::vector<double> pyr(pdy.size()), pdx(pxv.size());
    std::vector<int32_t> arg(pdy.size());
    if (is_max) {
      cpu::max_pool2d_general_forward_ref(pxd.data(), pyr.data(), arg.data(), ps);
      cpu::max_pool2d_general_backward_ref(pdyd.data(), arg.data(), pdx.data(), ps);
    } else {
      cpu::avg_pool2d_general_forward_ref(pxd.data(), pyr.data(), ps);
      cpu::avg_pool2d_general_backward_ref(pdyd.data(), pdx.data(), ps);
    }
    require_close(py.to_vector(), pyr, 1e-5, 1e-4);
    require_close(px.grad().to_vector(), pdx, 1e-5, 1e-4);
  }
}

TEST_CASE("conv2d_general and the general pools hand the plain cases to conv2d and the plain pools", "[ops]") {
  RandomStream rng(41, 1);
  // {n, c_in, h, w, c_out, k, stride, pad}: one group, no dilation, one stride, one pad all round.
  for (const auto& d : std::vector<std::vector<int64_t>>{
           {2, 3, 9, 8, 4, 3, 1, 1}, {1, 2, 7, 7, 3, 2, 2, 0}, {3, 1, 6, 5, 2, 5, 1, 2}, {2, 4, 5, 5, 3, 1, 2, 0}}) {
    const int64_t n = d[0], ci = d[1], h = d[2], wd = d[3], co = d[4], k = d[5], stride = d[6], pad = d[7];
    INFO("n=" << n << " c_in=" << ci << " h=" << h << " w=" << wd << " c_out=" << co << " k=" << k);
    const auto xv = random_vector<float>(n * ci * h * wd, rng), wv = random_vector<float>(co * ci * k * k, rng);
    const auto bv = random_vector<float>(co, rng);
    Tensor x1 = leaf(xv, {n, ci, h, wd}), w1 = leaf(wv, {co, ci, k, k}), b1 = leaf(bv, {co});
    Tensor x2 = leaf(xv, {n, ci, h, wd}), w2 = leaf(wv, {co, ci, k, k}), b2 = leaf(bv, {co});
    Tensor y1 = conv2d_general(x1, w1, b1, conv_params(stride, stride, pad, pad, pad, pad));
    Tensor y2 = conv2d(x2, w2, b2, stride, pad);
    REQUIRE(std::string(y1.grad_fn()->name()) == "Conv2dBackward");
    REQUIRE(y1.to_vector() == y2.to_vector());
    const auto dyv = random_vector<float>(y1.numel(), rng);
    run_backward(y1, Tensor::from_vector(dyv, y1.shape()));
    run_backward(y2, Tensor::from_vector(dyv, y2.shape()));
    REQUIRE(x1.grad().to_vector() == x2.grad().to_vector());
    REQUIRE(w1.grad().to_vector() == w2.grad().to_vector());
    REQUIRE(b1.grad().to_vector() == b2.grad().to_vector());

    // The general kernel computes the same convolution (up to float summation order).
    const ConvCase c = conv_case(n, ci, h, wd, co, k, k, conv_params(stride, stride, pad, pad, pad, pad));
    std::vector<float> yg(static_cast<size_t>(y2.numel()));
    cpu::conv2d_general_forward(xv.data(), wv.data(), bv.data(), yg.data(), c.s);
    require_close(yg, to_double(y2.to_vector()), 1e-6 * ci * k * k, 1e-5);
  }

  // Pools: a square kernel, one stride, no padding or dilation, and no extra ceil_mode window.
  const auto xv = random_vector<float>(2 * 3 * 7 * 7, rng);
  for (bool ceil_mode : {false, true}) {
    PoolGeneralParams p = pool_params(3, 3, 2, 2);  // (7 - 3) / 2 exact: ceil_mode adds nothing
    p.ceil_mode = ceil_mode;
    Tensor x = leaf(xv, {2, 3, 7, 7});
    Tensor ym = max_pool2d_general(x, p), ya = avg_pool2d_general(x, p);
    REQUIRE(std::string(ym.grad_fn()->name()) == "MaxPool2dBackward");
    REQUIRE(std::string(ya.grad_fn()->name()) == "AvgPool2dBackward");
    REQUIRE(ym.to_vector() == max_pool2d(x, 3, 2).to_vector());
    REQUIRE(ya.to_vector() == avg_pool2d(x, 3, 2).to_vector());
  }
  PoolGeneralParams p = pool_params(2, 2, 2, 2);
  p.ceil_mode = true;  // 7 wide: one more window than the plain pool has
  Tensor y = max_pool2d_general(leaf(xv, {2, 3, 7, 7}), p);
  REQUIRE(y.shape() == Shape{2, 3, 4, 4});
  REQUIRE(std::string(y.grad_fn()->name()) == "MaxPool2dGeneralBackward");
}

TEST_CASE("conv2d_general and the general pools do not depend on the thread count", "[ops]") {
  ThreadCountGuard guard;
  for (int64_t n : {1, 3}) {
    INFO("n=" << n);
    const std::vector<ConvCase> cases = {
        conv_case(n, 6, 37, 29, 4, 3, 3, conv_params(1, 2, 1, 0, 2, 1, 2, 1, 2)),  // im2col + GEMM
        conv_case(n, 6, 21, 23, 12, 3, 3, conv_params(1, 1, 1, 1, 1, 1, 1, 1, 6)),  // depthwise x2
    };
    for (const ConvCase& c : cases) {
      const ConvGeneralShape& s = c.s;
      INFO(describe(s));
      RandomStream rng(51, static_cast<uint64_t>(n));
      const auto xv = random_vector<float>(s.n * s.c_in * s.h * s.w, rng);
      const auto wv = random_vector<float>(s.c_out * s.c_in_group() * s.kh * s.kw, rng);
      const auto bv = random_vector<float>(s.c_out, rng);
      const auto dyv = random_vector<float>(s.n * s.c_out * s.h_out() * s.w_out(), rng);
      std::vector<float> results[2][4];  // per thread count: y, dx, dw, db
      for (int t = 0; t < 2; ++t) {
        set_num_threads(t == 0 ? 1 : 3);
        Tensor x = leaf(xv, {s.n, s.c_in, s.h, s.w}), w = leaf(wv, {s.c_out, s.c_in_group(), s.kh, s.kw});
        Tensor b = leaf(bv, {s.c_out});
        Tensor y = conv2d_general(x, w, b, c.p);
        run_backward(y, Tensor::from_vector(dyv, y.shape()));
        results[t][0] = y.to_vector(), results[t][1] = x.grad().to_vector();
        results[t][2] = w.grad().to_vector(), results[t][3] = b.grad().to_vector();
      }
      for (int i = 0; i < 4; ++i) REQUIRE(results[0][i] == results[1][i]);
    }
    for (bool is_max : {true, false}) {
      PoolGeneralParams p = pool_params(3, 3, 2, 1, 1, 2, 0, 1);
      p.ceil_mode = true, p.count_include_pad = !is_max;
      RandomStream rng(52, static_cast<uint64_t>(n));
      const auto xv = random_vector<float>(n * 16 * 40 * 40, rng);  // above the parallel threshold
      std::vector<float> results[2][2];
      for (int t = 0; t < 2; ++t) {
        set_num_threads(t == 0 ? 1 : 3);
        Tensor x = leaf(xv, {n, 16, 40, 40});
        Tensor y = is_max ? max_pool2d_general(x, p) : avg_pool2d_general(x, p);
        run_backward(y, Tensor::full(y.shape(), 0.5f));
        results[t][0] = y.to_vector(), results[t][1] = x.grad().to_vector();
      }
      REQUIRE(results[0][0] == results[1][0]);
      REQUIRE(results[0][1] == results[1][1]);
    }
  }
}

TEST_CASE("conv2d_general and the general pools reject bad arguments", "[ops]") {
  using Catch::Matchers::Contains;
  Tensor x = Tensor::zeros({1, 4, 5, 5}), w = Tensor::zeros({6, 2, 3, 3}), b = Tensor::zeros({6});
  const ConvGeneralParams g2 = conv_params(1, 1, 0, 0, 0, 0, 1, 1, 2);
  REQUIRE(conv2d_general(x, w, b, g2).shape() == Shape{1, 6, 3, 3});
  auto conv_fails = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb, const ConvGeneralParams& p) {
    REQUIRE_THROWS_WITH(conv2d_general(xx, ww, bb, p), Contains("conv2d_general"));
  };
  conv_fails(Tensor::zeros({4, 5, 5}), w, b, g2);                             // input rank
  conv_fails(x, Tensor::zeros({6, 2, 3}), b, g2);                             // weight rank
  conv_fails(x, w, b, conv_params(1, 1, 0, 0, 0, 0, 1, 1, 3));                // 4 channels in 3 groups
  conv_fails(x, Tensor::zeros({5, 2, 3, 3}), Tensor::zeros({5}), g2);         // 5 filters in 2 groups
  conv_fails(x, Tensor::zeros({6, 4, 3, 3}), b, g2);                          // c_in / groups mismatch
  conv_fails(x, w, Tensor::zeros({5}), g2);                                   // bias size
  conv_fails(x, w, b, conv_params(0, 1, 0, 0, 0, 0, 1, 1, 2));                // stride 0
  conv_fails(x, w, b, conv_params(1, 1, 0, 0, 0, 0, 1, 0, 2));                // dilation 0
  conv_fails(x, w, b, conv_params(1, 1, 0, 0, 0, 0, 1, 1, 0));                // groups 0
  conv_fails(x, w, b, conv_params(1, 1, 0, -1, 0, 0, 1, 1, 2));               // negative pad
  conv_fails(x, w, b, conv_params(1, 1, 0, 0, 0, 0, 3, 1, 2));                // dilated kernel 7 > 5
  conv_fails(Tensor::zeros({0, 4, 5, 5}), w, b, g2);                          // empty batch
  conv_fails(Tensor::zeros({1, 4, 0, 5}), w, b, conv_params(1, 1, 2, 0, 2, 0, 1, 1, 2));  // empty plane
  conv_fails(x, Tensor::zeros({6, 2, 0, 3}), b, g2);                          // empty kernel
  conv_fails(x, w, b, conv_params(1, 1, -2, 0, 0, 0, 1, 1, 2));               // negative pad (top)

  auto pool_fails = [&](const PoolGeneralParams& p, bool is_max, const char* op) {
    REQUIRE_THROWS_WITH(is_max ? max_pool2d_general(x, p) : avg_pool2d_general(x, p), Contains(op));
  };
  for (bool is_max : {true, false}) {
    const char* op = is_max ? "max_pool2d_general" : "avg_pool2d_general";
    PoolGeneralParams bad = pool_params(0, 2, 1, 1);
    pool_fails(bad, is_max, op);                                   // kernel 0
    pool_fails(pool_params(2, 2, 1, 0), is_max, op);               // stride 0
    pool_fails(pool_params(2, 2, 1, 1, 0, -1, 0, 0), is_max, op);  // negative pad
    pool_fails(pool_params(6, 2, 1, 1), is_max, op);               // kernel 6 > 5: empty output
    REQUIRE_THROWS_WITH(is_max ? max_pool2d_general(Tensor::zeros({1, 4, 5, 0}), pool_params(1, 1, 1, 1))
                               : avg_pool2d_general(Tensor::zeros({1, 4, 5, 0}), pool_params(1, 1, 1, 1)),
                        Contains(op));  // empty plane
    REQUIRE_THROWS_WITH(is_max ? max_pool2d_general(Tensor::zeros({4, 5, 5}), pool_params(2, 2, 1, 1))
                               : avg_pool2d_general(Tensor::zeros({4, 5, 5}), pool_params(2, 2, 1, 1)),
                        Contains(op));  // rank
  }
  PoolGeneralParams dilated = pool_params(2, 2, 1, 1);
  dilated.dilation_h = 2;
  REQUIRE(max_pool2d_general(x, dilated).shape() == Shape{1, 4, 3, 4});
  pool_fails(dilated, false, "avg_pool2d_general");                          // average pool: dilation 1 only
  pool_fails(pool_params(2, 2, 1, 1, 2, 0, 0, 0), false, "avg_pool2d_general");  // pad not below the kernel
}

TEST_CASE("conv2d_general on CUDA tensors: the plain cases through conv2d, the others through the general kernels", "[ops][cuda]") {
  if (!have_gpu("conv2d_general on CUDA tensors")) return;
  RandomStream rng(61, 1);
  const auto xv = random_vector<float>(2 * 4 * 6 * 6, rng), wv = random_vector<float>(3 * 4 * 3 * 3, rng);
  Tensor x = Tensor::from_vector(xv, {2, 4, 6, 6}), w = Tensor::from_vector(wv, {3, 4, 3, 3});
  const ConvGeneralParams plain = conv_params(1, 1, 1, 1, 1, 1);
  Tensor y = conv2d_general(x.to(Device::CUDA), w.to(Device::CUDA), Tensor(), plain);
  REQUIRE(y.device() == Device::CUDA);
  require_close(y.to_vector(), to_double(conv2d_general(x, w, Tensor(), plain).to_vector()), 1e-5, 1e-4);
  const ConvGeneralParams asymmetric = conv_params(1, 1, 1, 0, 1, 0);
  require_close(conv2d_general(x.to(Device::CUDA), w.to(Device::CUDA), Tensor(), asymmetric).to_vector(),
                to_double(conv2d_general(x, w, Tensor(), asymmetric).to_vector()), 1e-5, 1e-4);
  REQUIRE(max_pool2d_general(x.to(Device::CUDA), pool_params(2, 2, 1, 1, 1, 0, 0, 0)).to_vector() ==
          max_pool2d_general(x, pool_params(2, 2, 1, 1, 1, 0, 0, 0)).to_vector());
  REQUIRE(max_pool2d_general(x.to(Device::CUDA), pool_params(2, 2, 2, 2)).to_vector() ==
          max_pool2d_general(x, pool_params(2, 2, 2, 2)).to_vector());
}
