// Tests for the CPU kernels other than the GEMM-based ones (ReLU, pooling, batch norm,
// softmax cross-entropy, accuracy counting): the double references against central finite
// differences and hand-computed cases, then the fast float paths against the references.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "framework/parallel.h"
#include "framework/random.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cpu/pool2d.h"
#include "kernels/cpu/relu.h"
#include "tests/numeric_checks.h"

using namespace stuckat::test;

namespace {
using namespace stuckat::cpu;

constexpr uint64_t kSeed = 20240611;

std::vector<double> random_values(int64_t n, uint64_t stream, double lo = -1.0, double hi = 1.0) {
  stuckat::RandomStream rng(kSeed, stream);
  std::vector<double> v(n);
  for (auto& e : v) e = rng.next_uniform(static_cast<float>(lo), static_cast<float>(hi));
  return v;
}

// Distinct values (a shuffled ramp with steps of 0.01) so that no max-pool window holds two
// values closer than a finite-difference step: the argmax cannot flip while we probe.
std::vector<double> distinct_values(int64_t n, uint64_t stream) {
  std::vector<int64_t> order = stuckat::random_permutation(n, kSeed, stream);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = 0.01 * static_cast<double>(order[i]) - 0.005 * static_cast<double>(n);
  return v;
}

std::vector<int32_t> random_labels(int64_t n, int64_t k, uint64_t stream) {
  stuckat::RandomStream rng(kSeed, stream);
  std::vector<int32_t> labels(n);
  for (auto& l : labels) l = static_cast<int32_t>(rng.next_below(static_cast<uint32_t>(k)));
  return labels;
}

// d loss / d v[i] by central differences; loss() reads v.
double central_difference(std::vector<double>& v, size_t i, const std::function<double()>& loss, double h) {
  const double saved = v[i];
  v[i] = saved + h;
  const double up = loss();
  v[i] = saved - h;
  const double down = loss();
  v[i] = saved;
  return (up - down) / (2 * h);
}

// Analytic gradient `grad` of loss() w.r.t. every element of v against central differences.
void require_gradient_matches(const char* what, std::vector<double>& v, const std::vector<double>& grad,
                              const std::function<double()>& loss, double h, double tol,
                              const std::function<bool(size_t)>& skip = nullptr) {
  REQUIRE(v.size() == grad.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (skip && skip(i)) continue;
    const double numeric = central_difference(v, i, loss, h);
    if (!(std::abs(grad[i] - numeric) <= tol * (1.0 + std::abs(numeric)))) {  // NaN fails too
      INFO(what << " element " << i << ": analytic " << grad[i] << ", numeric " << numeric);
      REQUIRE(std::abs(grad[i] - numeric) <= tol * (1.0 + std::abs(numeric)));
    }
  }
}

// |actual - expected| <= atol + rtol*|expected| elementwise, and NMSE <= 1e-7 (the tolerance policy in docs/DESIGN.md).
template <typename A, typename E>
void require_allclose(const char* what, const std::vector<A>& actual, const std::vector<E>& expected, double atol,
                      double rtol) {
  REQUIRE(actual.size() == expected.size());
  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    if (!(std::abs(a - e) <= atol + rtol * std::abs(e))) {  // negated so NaN fails too
      INFO(what << " element " << i << ": got " << a << ", expected " << e);
      REQUIRE(std::abs(a - e) <= atol + rtol * std::abs(e));
    }
    err2 += (a - e) * (a - e);
    ref2 += e * e;
  }
  INFO(what);
  if (ref2 > 0) REQUIRE(err2 / ref2 <= 1e-7);
}

// Runs body with the CPU backend at `threads` threads, restoring the previous count.
void with_threads(int threads, const std::function<void()>& body) {
  const int previous = stuckat::num_threads();
  stuckat::set_num_threads(threads);
  body();
  stuckat::set_num_threads(previous);
}

// Finite differences in double: truncation error ~h^2 * f''' and rounding ~1e-16 * |loss| / h.
// With h = 1e-6 on piecewise-linear ops (relu, pools: no truncation error) and losses of
// magnitude <= ~100, both stay under 1e-8; the tolerance 1e-6 leaves two orders of margin.
constexpr double kStepLinear = 1e-6, kTolLinear = 1e-6;
// Smooth ops (batch norm, softmax): h = 1e-5 balances truncation (~1e-10 * |f'''|) against
// rounding (~1e-11 * |loss|); 1e-6 is again far above both.
constexpr double kStepSmooth = 1e-5, kTolSmooth = 1e-6;

}  // namespace

// ---------------------------------------------------------------- reference gradients

TEST_CASE("relu reference backward matches finite differences", "[kernels]") {
  const int64_t n = 257;
  std::vector<double> x = random_values(n, 1), w = random_values(n, 2);
  std::vector<double> y(n), dx(n);
  auto loss = [&] {
    relu_forward_ref(x.data(), y.data(), n);
    return dot(w, y);
  };
  loss();
  relu_backward_ref(y.data(), w.data(), dx.data(), n);
  require_gradient_matches("relu dx", x, dx, loss, kStepLinear, kTolLinear,
                           [&](size_t i) { return std::abs(x[i]) < 1e-3; });  // the kink at 0
}

TEST_CASE("max pool reference backward matches finite differences", "[kernels]") {
  for (Pool2dShape s : {Pool2dShape{2, 3, 7, 6, 3, 2}, Pool2dShape{1, 2, 4, 4, 2, 2}, Pool2dShape{2, 1, 5, 5, 2, 1}}) {
    INFO("shape n=" << s.n << " c=" << s.c << " h=" << s.h << " w=" << s.w << " k=" << s.k << " s=" << s.stride);
    const int64_t in = s.n * s.c * s.h * s.w, out = s.n * s.c * s.h_out() * s.w_out();
    std::vector<double> x = distinct_values(in, 3), w = random_values(out, 4), y(out), dx(in);
    std::vector<int32_t> argmax(out);
    auto loss = [&] {
      max_pool2d_forward_ref(x.data(), y.data(), argmax.data(), s);
      return dot(w, y);
    };
    loss();
    max_pool2d_backward_ref(w.data(), argmax.data(), dx.data(), s);
    require_gradient_matches("max pool dx", x, dx, loss, kStepLinear, kTolLinear);
  }
}

TEST_CASE("avg pool reference backward matches finite differences", "[kernels]") {
  for (Pool2dShape s : {Pool2dShape{2, 2, 5, 7, 2, 2}, Pool2dShape{1, 1, 7, 7, 3, 2}}) {
    const int64_t in = s.n * s.c * s.h * s.w, out = s.n * s.c * s.h_out() * s.w_out();
    std::vector<double> x = random_values(in, 5), w = random_values(out, 6), y(out), dx(in);
    auto loss = [&] {
      avg_pool2d_forward_ref(x.data(), y.data(), s);
      return dot(w, y);
    };
    avg_pool2d_backward_ref(w.data(), dx.data(), s);
    require_gradient_matches("avg pool dx", x, dx, loss, kStepLinear, kTolLinear);
  }
}

TEST_CASE("adaptive avg pool reference backward matches finite differences", "[kernels]") {
  // 5x7 -> 3x2 has overlapping bins, 7x7 -> 1x1 is a global average, 2x3 -> 3x4 upsamples.
  for (AdaptivePool2dShape s : {AdaptivePool2dShape{2, 2, 5, 7, 3, 2}, AdaptivePool2dShape{1, 3, 7, 7, 1, 1},
                                AdaptivePool2dShape{1, 1, 2, 3, 3, 4}}) {
    INFO("shape " << s.h << "x" << s.w << " -> " << s.oh << "x" << s.ow);
    const int64_t in = s.n * s.c * s.h * s.w, out = s.n * s.c * s.oh * s.ow;
    std::vector<double> x = random_values(in, 7), w = random_values(out, 8), y(out), dx(in);
    auto loss = [&] {
      adaptive_avg_pool2d_forward_ref(x.data(), y.data(), s);
      return dot(w, y);
    };
    adaptive_avg_pool2d_backward_ref(w.data(), dx.data(), s);
    require_gradient_matches("adaptive pool dx", x, dx, loss, kStepLinear, kTolLinear);
  }
}

TEST_CASE("batch norm reference backward matches finite differences", "[kernels]") {
  for (BatchNormShape s : {BatchNormShape{5, 3, 1}, BatchNormShape{3, 2, 6}}) {
    INFO("shape n=" << s.n << " c=" << s.c << " hw=" << s.hw);
    const int64_t total = s.n * s.c * s.hw;
    std::vector<double> x = random_values(total, 9, -2.0, 3.0), w = random_values(total, 10);
    std::vector<double> gamma = random_values(s.c, 11, 0.5, 1.5), beta = random_values(s.c, 12);
    std::vector<double> y(total), mean(s.c), invstd(s.c), running_mean(s.c), running_var(s.c);
    auto loss = [&] {
      batch_norm_forward_train_ref(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), invstd.data(),
                                   running_mean.data(), running_var.data(), 0.1, 1e-5, s);
      return dot(w, y);
    };
    loss();
    std::vector<double> dx(total), dgamma(s.c), dbeta(s.c);
    batch_norm_backward_ref(x.data(), gamma.data(), mean.data(), invstd.data(), w.data(), dx.data(), dgamma.data(),
                            dbeta.data(), s);
    require_gradient_matches("batch norm dx", x, dx, loss, kStepSmooth, kTolSmooth);
    require_gradient_matches("batch norm dgamma", gamma, dgamma, loss, kStepSmooth, kTolSmooth);
    require_gradient_matches("batch norm dbeta", beta, dbeta, loss, kStepSmooth, kTolSmooth);
  }
}

TEST_CASE("cross-entropy reference backward matches finite differences", "[kernels]") {
  const int64_t n = 4, k = 5;
  const double dloss = 1.7;  // not 1, so a missing dloss factor shows
  std::vector<double> logits = random_values(n * k, 13, -3.0, 3.0), probs(n * k), dlogits(n * k);
  std::vector<int32_t> labels = random_labels(n, k, 14);
  auto loss = [&] { return dloss * cross_entropy_forward_ref(logits.data(), labels.data(), probs.data(), n, k); };
  loss();
  cross_entropy_backward_ref(probs.data(), labels.data(), dloss, dlogits.data(), n, k);
  require_gradient_matches("cross-entropy dlogits", logits, dlogits, loss, kStepSmooth, kTolSmooth);
}

// ---------------------------------------------------------------- hand-computed cases

TEST_CASE("relu keeps positives, zeroes negatives and passes NaN", "[kernels]") {
  const std::vector<float> x = {-2.0f, 0.0f, 3.5f, NAN};
  std::vector<float> y(4), dx(4), dy = {1, 2, 3, 4};
  relu_forward(x.data(), y.data(), 4);
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == 0.0f);
  CHECK(y[2] == 3.5f);
  CHECK(std::isnan(y[3]));
  relu_backward(y.data(), dy.data(), dx.data(), 4);
  CHECK(dx == std::vector<float>{0, 0, 3, 0});
}

TEST_CASE("4x4 max pool 2x2 picks the known maxima and argmax", "[kernels]") {
  // Window maxima: top-left 6 at (1,1)=5, top-right 8 at (0,3)=3, bottom-left 9 at (2,0)=8,
  // bottom-right has a tie of 7s at (2,2)=10 and (3,3)=15: the first in row-major order wins.
  const std::vector<float> x = {1, 2, 0, 8,   //
                                4, 6, 5, 3,   //
                                9, 1, 7, 2,   //
                                3, 2, 1, 7};
  const Pool2dShape s{1, 1, 4, 4, 2, 2};
  for (bool fast : {false, true}) {
    std::vector<float> y(4), dx(16);
    std::vector<int32_t> argmax(4);
    if (fast)
      max_pool2d_forward(x.data(), y.data(), argmax.data(), s);
    else
      max_pool2d_forward_ref(x.data(), y.data(), argmax.data(), s);
    CHECK(y == std::vector<float>{6, 8, 9, 7});
    CHECK(argmax == std::vector<int32_t>{5, 3, 8, 10});
    const std::vector<float> dy = {10, 20, 30, 40};
    if (fast)
      max_pool2d_backward(dy.data(), argmax.data(), dx.data(), s);
    else
      max_pool2d_backward_ref(dy.data(), argmax.data(), dx.data(), s);
    std::vector<float> expected(16, 0.0f);
    expected[5] = 10, expected[3] = 20, expected[8] = 30, expected[10] = 40;
    CHECK(dx == expected);
  }
}

TEST_CASE("max pool propagates a NaN in its window", "[kernels]") {
  const std::vector<float> x = {1, NAN, 3, 2};
  const Pool2dShape s{1, 1, 2, 2, 2, 2};
  float y = 0;
  int32_t argmax = -1;
  max_pool2d_forward(x.data(), &y, &argmax, s);
  CHECK(std::isnan(y));
  CHECK(argmax == 1);
  max_pool2d_forward_ref(x.data(), &y, &argmax, s);
  CHECK(std::isnan(y));
  CHECK(argmax == 1);
}

TEST_CASE("2x2 max pool keeps NaN and first-of-ties rules in every lane of a wide row", "[kernels]") {
  // One 2 x 40 plane -> 20 outputs (a full 16-lane block and a 4-lane tail). Window j holds
  // (a, b / c, d) = x[2j], x[2j+1], x[40+2j], x[41+2j]. Pattern by j % 4: 0 = a NaN at
  // element (j % 3) + 1, so the output is NaN with that argmax; 1 = all four equal, so the first
  // (a) wins; 2 = NaN in a and d, so the first NaN (a) stays; 3 = distinct, max at d.
  const Pool2dShape s{1, 1, 2, 40, 2, 2};
  std::vector<float> x(80);
  std::vector<int32_t> expected_arg(20);
  for (int j = 0; j < 20; ++j) {
    float* w[4] = {&x[2 * j], &x[2 * j + 1], &x[40 + 2 * j], &x[41 + 2 * j]};
    const int32_t idx[4] = {2 * j, 2 * j + 1, 40 + 2 * j, 41 + 2 * j};
    for (int k = 0; k < 4; ++k) *w[k] = static_cast<float>(j) + 0.25f * static_cast<float>(k);
    switch (j % 4) {
      case 0: *w[j % 3 + 1] = NAN, expected_arg[j] = idx[j % 3 + 1]; break;
      case 1: for (float* v : w) *v = 5.0f; expected_arg[j] = idx[0]; break;
      case 2: *w[0] = NAN, *w[3] = NAN, expected_arg[j] = idx[0]; break;
      default: expected_arg[j] = idx[3];
    }
  }
  std::vector<float> y(20), y_ref(20);
  std::vector<int32_t> arg(20), arg_ref(20);
  max_pool2d_forward(x.data(), y.data(), arg.data(), s);
  max_pool2d_forward_ref(x.data(), y_ref.data(), arg_ref.data(), s);
  CHECK(arg == expected_arg);
  CHECK(arg_ref == expected_arg);
  for (int j = 0; j < 20; ++j) {
    INFO("window " << j);
    CHECK(std::isnan(y[j]) == (j % 4 == 0 || j % 4 == 2));
    if (!std::isnan(y[j])) CHECK(y[j] == x[expected_arg[j]]);
  }
}

TEST_CASE("adaptive avg pool uses PyTorch's bin edges on a 5-wide row", "[kernels]") {
  // 5 -> 3 bins: [floor(0), ceil(5/3)) = [0,2), [floor(5/3), ceil(10/3)) = [1,4), [3,5).
  const std::vector<float> x = {1, 2, 3, 4, 5};
  const AdaptivePool2dShape s{1, 1, 1, 5, 1, 3};
  std::vector<float> y(3), dx(5);
  const std::vector<float> dy = {6, 6, 6};
  for (bool fast : {false, true}) {
    if (fast)
      adaptive_avg_pool2d_forward(x.data(), y.data(), s);
    else
      adaptive_avg_pool2d_forward_ref(x.data(), y.data(), s);
    CHECK(y == std::vector<float>{1.5f, 3.0f, 4.5f});
    if (fast)
      adaptive_avg_pool2d_backward(dy.data(), dx.data(), s);
    else
      adaptive_avg_pool2d_backward_ref(dy.data(), dx.data(), s);
    // Each bin spreads 6 over its width: 3 per element of the 2-wide bins, 2 for the 3-wide one.
    CHECK(dx == std::vector<float>{3, 3 + 2, 2, 2 + 3, 3});
  }
}

TEST_CASE("cross-entropy of logits (0, ln 2, ln 3) has an exact answer", "[kernels]") {
  // softmax(0, ln 2, ln 3) = (1, 2, 3) / 6. Row 0 with label 2 costs -ln(1/2) = ln 2, row 1
  // with label 0 costs ln 6; the mean is ln(12) / 2. Row 2 adds 1000 to every logit (exp
  // would overflow without the max shift), label 1: ln 3.
  const double l2 = std::log(2.0), l3 = std::log(3.0);
  const std::vector<double> logits = {0, l2, l3, 0, l2, l3, 1000, 1000 + l2, 1000 + l3};
  const std::vector<int32_t> labels = {2, 0, 1};
  const double expected_loss = (l2 + std::log(6.0) + l3) / 3;
  const std::vector<double> expected_probs = {1.0 / 6, 2.0 / 6, 3.0 / 6, 1.0 / 6, 2.0 / 6,
                                              3.0 / 6, 1.0 / 6, 2.0 / 6, 3.0 / 6};
  // dlogits = dloss * (probs - onehot) / n with dloss = 3, n = 3.
  const std::vector<double> expected_grad = {1.0 / 6, 2.0 / 6, -3.0 / 6, -5.0 / 6, 2.0 / 6,
                                             3.0 / 6, 1.0 / 6, -4.0 / 6, 3.0 / 6};

  std::vector<double> probs(9), grad(9);
  CHECK(cross_entropy_forward_ref(logits.data(), labels.data(), probs.data(), 3, 3) == Approx(expected_loss));
  require_allclose("ref probs", probs, expected_probs, 1e-12, 0);
  cross_entropy_backward_ref(probs.data(), labels.data(), 3.0, grad.data(), 3, 3);
  require_allclose("ref grad", grad, expected_grad, 1e-12, 0);

  // float: 1000 + ln 3 is only representable to ~6e-5, so compare with a matching tolerance.
  std::vector<float> logits_f = to_float(logits), probs_f(9), grad_f(9);
  CHECK(cross_entropy_forward(logits_f.data(), labels.data(), probs_f.data(), 3, 3) ==
        Approx(expected_loss).margin(1e-4));
  require_allclose("fast probs", probs_f, expected_probs, 1e-4, 0);
  cross_entropy_backward(probs_f.data(), labels.data(), 3.0f, grad_f.data(), 3, 3);
  require_allclose("fast grad", grad_f, expected_grad, 1e-4, 0);
}

TEST_CASE("batch norm of a known two-value channel", "[kernels]") {
  // Channel 0 holds {1, 3}: mean 2, biased variance 1, unbiased variance 2. Channel 1 holds
  // {-4, -4}: variance 0, so it normalises to beta. Running stats start at (0, 1) and take one
  // step with momentum 0.1: mean 0.9*0 + 0.1*2 = 0.2, var 0.9*1 + 0.1*2 = 1.1 (channel 1:
  // mean -0.4, var 0.9).
  const double eps = 1e-5;
  const std::vector<double> x = {1, -4, 3, -4};  // (n=2, c=2, hw=1)
  const std::vector<double> gamma = {2, 1}, beta = {0.5, -1};
  const double inv = 1 / std::sqrt(1 + eps);
  const std::vector<double> expected_y = {-2 * inv + 0.5, -1, 2 * inv + 0.5, -1};
  const BatchNormShape s{2, 2, 1};
  for (bool fast : {false, true}) {
    INFO((fast ? "fast" : "reference"));
    std::vector<double> y(4), mean(2), invstd(2), running_mean = {0, 0}, running_var = {1, 1};
    if (fast) {
      std::vector<float> y_f(4), mean_f(2), invstd_f(2), rm_f = {0, 0}, rv_f = {1, 1};
      batch_norm_forward_train(to_float(x).data(), to_float(gamma).data(), to_float(beta).data(), y_f.data(),
                               mean_f.data(), invstd_f.data(), rm_f.data(), rv_f.data(), 0.1f, float(eps), s);
      y = to_double(y_f), mean = to_double(mean_f), invstd = to_double(invstd_f);
      running_mean = to_double(rm_f), running_var = to_double(rv_f);
    } else {
      batch_norm_forward_train_ref(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), invstd.data(),
                                   running_mean.data(), running_var.data(), 0.1, eps, s);
    }
    // float results: a few roundings of O(1) values, 1e-6 is ~10 float ulps.
    require_allclose("y", y, expected_y, 1e-6, 0);
    require_allclose("mean", mean, std::vector<double>{2, -4}, 1e-6, 0);
    require_allclose("invstd", invstd, std::vector<double>{inv, 1 / std::sqrt(eps)}, 0, 1e-6);
    require_allclose("running mean", running_mean, std::vector<double>{0.2, -0.4}, 1e-6, 0);
    require_allclose("running var", running_var, std::vector<double>{1.1, 0.9}, 1e-6, 0);
  }
  // Eval mode with running statistics (mean 2, var 4): (x - 2) / sqrt(4 + eps) * gamma + beta.
  const std::vector<double> rm = {2, 2}, rv = {4, 4};
  std::vector<double> y(4);
  batch_norm_forward_eval_ref(x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), eps, y.data(), s);
  const double inv2 = 1 / std::sqrt(4 + eps);
  const std::vector<double> expected_eval = {-1 * inv2 * 2 + 0.5, -6 * inv2 - 1, 1 * inv2 * 2 + 0.5, -6 * inv2 - 1};
  require_allclose("eval ref", y, expected_eval, 1e-12, 0);
  std::vector<float> y_f(4);
  batch_norm_forward_eval(to_float(x).data(), to_float(gamma).data(), to_float(beta).data(), to_float(rm).data(),
                          to_float(rv).data(), float(eps), y_f.data(), s);
  require_allclose("eval fast", y_f, expected_eval, 1e-6, 0);
}

TEST_CASE("count_correct lets the first maximum win a tie", "[kernels]") {
  const std::vector<float> logits = {1, 3, 3,    // tie between classes 1 and 2: predicts 1
                                     1, 3, 3,    // same row, label 2: wrong
                                     5, -1, 0,   // predicts 0
                                     0, 0, 0};   // all tied: predicts 0
  const std::vector<int32_t> labels = {1, 2, 0, 2};
  CHECK(count_correct(logits.data(), labels.data(), 4, 3) == 2);
}

// ---------------------------------------------------------------- fast float vs reference

TEST_CASE("fast relu equals the reference", "[kernels]") {
  // 100003 elements: above the OpenMP threshold, with an odd tail for the vector loop.
  const int64_t n = 100003;
  std::vector<float> x = to_float(random_values(n, 20)), dy = to_float(random_values(n, 21));
  std::vector<float> y(n), y_ref(n), dx(n), dx_ref(n);
  relu_forward(x.data(), y.data(), n);
  relu_forward_ref(x.data(), y_ref.data(), n);
  relu_backward(y.data(), dy.data(), dx.data(), n);
  relu_backward_ref(y_ref.data(), dy.data(), dx_ref.data(), n);
  CHECK(y == y_ref);  // a select, so exactly equal
  CHECK(dx == dx_ref);
}

TEST_CASE("fast pooling equals the reference on assorted shapes", "[kernels]") {
  // Odd sizes, k=3 stride 2 (overlapping windows), stride > k (gaps), n=1, 1x1 windows, and a
  // 131072-element input that takes the OpenMP path.
  const std::vector<Pool2dShape> shapes = {{1, 1, 4, 4, 2, 2},   {3, 5, 13, 11, 2, 2}, {2, 3, 9, 9, 3, 2},
                                           {1, 4, 28, 28, 2, 2}, {2, 3, 8, 10, 2, 3},  {1, 2, 7, 5, 1, 1},
                                           {8, 16, 32, 32, 2, 2}, {4, 8, 33, 31, 3, 2}, {2, 3, 6, 41, 2, 2},
                                           {2, 3, 17, 35, 2, 2}};
  uint64_t stream = 100;
  for (const Pool2dShape& s : shapes) {
    INFO("shape n=" << s.n << " c=" << s.c << " h=" << s.h << " w=" << s.w << " k=" << s.k << " s=" << s.stride);
    const int64_t in = s.n * s.c * s.h * s.w, out = s.n * s.c * s.h_out() * s.w_out();
    std::vector<float> x = to_float(random_values(in, stream++)), dy = to_float(random_values(out, stream++));
    std::vector<float> y(out), y_ref(out), dx(in), dx_ref(in);
    std::vector<int32_t> arg(out), arg_ref(out);

    // Max pool visits windows in the same order with the same rule: bit-identical.
    max_pool2d_forward(x.data(), y.data(), arg.data(), s);
    max_pool2d_forward_ref(x.data(), y_ref.data(), arg_ref.data(), s);
    CHECK(y == y_ref);
    CHECK(arg == arg_ref);
    std::vector<float> y_values(out);
    max_pool2d_forward(x.data(), y_values.data(), nullptr, s);  // inference: values only
    CHECK(y_values == y_ref);
    max_pool2d_backward(dy.data(), arg.data(), dx.data(), s);
    max_pool2d_backward_ref(dy.data(), arg_ref.data(), dx_ref.data(), s);
    CHECK(std::memcmp(dx.data(), dx_ref.data(), dx.size() * sizeof(float)) == 0);

    // Average pool: float sums of <= 9 values in [-1, 1]; both sides are within
    // 8 * 2^-24 * 9 / 9 ~ 5e-7 of the exact mean, so 2e-6 absolute covers their difference.
    avg_pool2d_forward(x.data(), y.data(), s);
    avg_pool2d_forward_ref(x.data(), y_ref.data(), s);
    require_allclose("avg pool y", y, y_ref, 2e-6, 0);
    avg_pool2d_backward(dy.data(), dx.data(), s);
    avg_pool2d_backward_ref(dy.data(), dx_ref.data(), s);
    require_allclose("avg pool dx", dx, dx_ref, 2e-6, 0);
  }
}

TEST_CASE("fused ReLU and max pool equal the two reference passes bit for bit", "[kernels]") {
  // Inputs with NaNs, zeros of both signs, ties and negatives (ReLU turns them into zeros that
  // tie): the fused pass must give exactly relu then pool (and pool then relu), NaN payloads and
  // signs of zero included. Shapes: 2x2 over rows of 10 and 28 (LeNet-5), odd sizes (partial
  // vectors, a dropped last row / column), k=3 stride 2, and the OpenMP path; 1 and 2 threads.
  const int saved_threads = stuckat::num_threads();
  const std::vector<Pool2dShape> shapes = {{3, 16, 10, 10, 2, 2}, {2, 6, 28, 28, 2, 2}, {3, 5, 13, 11, 2, 2},
                                           {2, 3, 9, 9, 3, 2},    {2, 3, 6, 41, 2, 2},  {8, 16, 32, 32, 2, 2}};
  uint64_t stream = 300;
  for (int threads : {1, 2})
    for (const Pool2dShape& s : shapes) {
      stuckat::set_num_threads(threads);
      INFO("shape n=" << s.n << " c=" << s.c << " h=" << s.h << " w=" << s.w << " k=" << s.k << " threads=" << threads);
      const int64_t in = s.n * s.c * s.h * s.w, out = s.n * s.c * s.h_out() * s.w_out();
      std::vector<float> x = to_float(random_values(in, stream++));
      const float specials[] = {std::nanf("1"), -std::nanf("2"), -0.0f, 0.0f, 0.25f, -0.25f};
      for (int64_t i = 0; i < in; i += 7) x[static_cast<size_t>(i)] = specials[(i / 7) % 6];
      for (bool pool_first : {false, true}) {
        std::vector<float> tmp(static_cast<size_t>(pool_first ? out : in)), ref(out), fused(out, 1.0f);
        std::vector<int32_t> arg(out);
        if (pool_first) {
          max_pool2d_forward_ref(x.data(), tmp.data(), arg.data(), s);
          relu_forward_ref(tmp.data(), ref.data(), out);
        } else {
          relu_forward_ref(x.data(), tmp.data(), in);
          max_pool2d_forward_ref(tmp.data(), ref.data(), arg.data(), s);
        }
        relu_max_pool2d_forward(x.data(), fused.data(), s, pool_first);
        CHECK(std::memcmp(fused.data(), ref.data(), ref.size() * sizeof(float)) == 0);
      }
    }
  stuckat::set_num_threads(saved_threads);
}

TEST_CASE("training's fused max pool then ReLU equals the two reference passes bit for bit", "[kernels]") {
  // Values and gradients of relu(max_pool2d(x)) against max_pool2d_forward_ref + relu_forward_ref
  // and relu_backward_ref + max_pool2d_backward_ref, with NaNs, zeros of both signs and ties in x
  // and zeros of both signs in dy; overlapping windows (k=3 stride 2) add into one input twice.
  const int saved_threads = stuckat::num_threads();
  // Rows of 8 or more outputs take whole-row vectors (one, or a full and a partial one: 17 and
  // 24 outputs, odd height and width), narrower ones the scatter.
  const std::vector<Pool2dShape> shapes = {{3, 16, 10, 10, 2, 2}, {2, 6, 28, 28, 2, 2}, {3, 5, 13, 11, 2, 2},
                                           {2, 3, 9, 9, 3, 2},    {8, 16, 32, 32, 2, 2}, {2, 2, 7, 7, 3, 1},
                                           {2, 3, 17, 35, 2, 2},  {1, 2, 6, 48, 2, 2},   {2, 4, 9, 17, 2, 2}};
  uint64_t stream = 400;
  for (int threads : {1, 2})
    for (const Pool2dShape& s : shapes) {
      stuckat::set_num_threads(threads);
      INFO("shape n=" << s.n << " c=" << s.c << " h=" << s.h << " w=" << s.w << " k=" << s.k << " threads=" << threads);
      const int64_t in = s.n * s.c * s.h * s.w, out = s.n * s.c * s.h_out() * s.w_out();
      std::vector<float> x = to_float(random_values(in, stream++)), dy = to_float(random_values(out, stream++));
      const float specials[] = {std::nanf("1"), -std::nanf("2"), -0.0f, 0.0f, 0.25f, -0.25f};
      for (int64_t i = 0; i < in; i += 7) x[static_cast<size_t>(i)] = specials[(i / 7) % 6];
      for (int64_t i = 0; i < out; i += 5) dy[static_cast<size_t>(i)] = i % 10 == 0 ? -0.0f : 0.0f;
      std::vector<float> pooled(out), y_ref(out), dpooled(out), dx_ref(in);
      std::vector<int32_t> arg_ref(out);
      max_pool2d_forward_ref(x.data(), pooled.data(), arg_ref.data(), s);
      relu_forward_ref(pooled.data(), y_ref.data(), out);
      relu_backward_ref(y_ref.data(), dy.data(), dpooled.data(), out);
      max_pool2d_backward_ref(dpooled.data(), arg_ref.data(), dx_ref.data(), s);

      std::vector<float> y(out, 1.0f), dx(in, 1.0f);
      std::vector<int32_t> arg(out);
      max_pool2d_relu_forward(x.data(), y.data(), arg.data(), s);
      max_pool2d_relu_backward(dy.data(), arg.data(), dx.data(), s);
      CHECK(std::memcmp(y.data(), y_ref.data(), y.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(dx.data(), dx_ref.data(), dx.size() * sizeof(float)) == 0);
    }
  stuckat::set_num_threads(saved_threads);
}

TEST_CASE("fast adaptive avg pool equals the reference", "[kernels]") {
  const std::vector<AdaptivePool2dShape> shapes = {{2, 3, 5, 7, 3, 2}, {1, 4, 7, 7, 1, 1}, {3, 2, 2, 3, 3, 4},
                                                   {64, 32, 4, 4, 1, 1}, {2, 5, 13, 9, 4, 4}};
  uint64_t stream = 200;
  for (const AdaptivePool2dShape& s : shapes) {
    INFO("shape n=" << s.n << " c=" << s.c << " " << s.h << "x" << s.w << " -> " << s.oh << "x" << s.ow);
    const int64_t in = s.n * s.c * s.h * s.w, out = s.n * s.c * s.oh * s.ow;
    std::vector<float> x = to_float(random_values(in, stream++)), dy = to_float(random_values(out, stream++));
    std::vector<float> y(out), y_ref(out), dx(in), dx_ref(in);
    // Bins hold up to 49 values in [-1, 1]: the fast path sums them in a vectorised order, so
    // each side is within 48 * 2^-24 ~ 3e-6 of the exact mean; 1e-5 covers their difference.
    adaptive_avg_pool2d_forward(x.data(), y.data(), s);
    adaptive_avg_pool2d_forward_ref(x.data(), y_ref.data(), s);
    require_allclose("adaptive y", y, y_ref, 1e-5, 0);
    adaptive_avg_pool2d_backward(dy.data(), dx.data(), s);
    adaptive_avg_pool2d_backward_ref(dy.data(), dx_ref.data(), s);
    require_allclose("adaptive dx", dx, dx_ref, 2e-6, 0);
  }
}

namespace {
struct BatchNormResult {
  std::vector<float> y, mean, invstd, running_mean, running_var, dx, dgamma, dbeta;
};

// Fast forward (train) + backward on float inputs.
BatchNormResult run_fast_batch_norm(const std::vector<float>& x, const std::vector<float>& gamma,
                                    const std::vector<float>& beta, const std::vector<float>& dy,
                                    const BatchNormShape& s) {
  BatchNormResult r;
  const size_t total = x.size(), c = static_cast<size_t>(s.c);
  r.y.resize(total), r.mean.resize(c), r.invstd.resize(c), r.dx.resize(total), r.dgamma.resize(c), r.dbeta.resize(c);
  r.running_mean.assign(c, 0.5f), r.running_var.assign(c, 2.0f);
  batch_norm_forward_train(x.data(), gamma.data(), beta.data(), r.y.data(), r.mean.data(), r.invstd.data(),
                           r.running_mean.data(), r.running_var.data(), 0.1f, 1e-5f, s);
  batch_norm_backward(x.data(), gamma.data(), r.mean.data(), r.invstd.data(), dy.data(), r.dx.data(),
                      r.dgamma.data(), r.dbeta.data(), s);
  return r;
}
}  // namespace

TEST_CASE("fast batch norm matches the double reference", "[kernels]") {
  // hw = 1 (BatchNorm1d after a linear layer), odd sizes, n = 2, and shapes large enough for
  // the OpenMP path; the offset of 100 in x checks that the shifted sums do not cancel.
  const std::vector<BatchNormShape> shapes = {{7, 5, 1},  {128, 120, 1}, {2, 3, 9},   {3, 6, 25},
                                              {64, 16, 100}, {16, 64, 64}, {256, 512, 1}};
  uint64_t stream = 300;
  for (const BatchNormShape& s : shapes) {
    for (double offset : {0.0, 100.0}) {
      INFO("shape n=" << s.n << " c=" << s.c << " hw=" << s.hw << " offset " << offset);
      const int64_t total = s.n * s.c * s.hw;
      std::vector<float> x = to_float(random_values(total, stream++, offset - 2, offset + 2));
      std::vector<float> gamma = to_float(random_values(s.c, stream++, 0.5, 1.5));
      std::vector<float> beta = to_float(random_values(s.c, stream++));
      std::vector<float> dy = to_float(random_values(total, stream++));
      const BatchNormResult fast = run_fast_batch_norm(x, gamma, beta, dy, s);

      // The oracle runs in double on the same float inputs, so the difference is the fast
      // path's float rounding only.
      std::vector<double> xd = to_double(x), gd = to_double(gamma), bd = to_double(beta), dyd = to_double(dy);
      std::vector<double> y(total), mean(s.c), invstd(s.c), rm(s.c, 0.5), rv(s.c, 2.0), dx(total), dg(s.c), db(s.c);
      batch_norm_forward_train_ref(xd.data(), gd.data(), bd.data(), y.data(), mean.data(), invstd.data(), rm.data(),
                                   rv.data(), 0.1, 1e-5, s);
      batch_norm_backward_ref(xd.data(), gd.data(), mean.data(), invstd.data(), dyd.data(), dx.data(), dg.data(),
                              db.data(), s);

      // Statistics come from double sums and are rounded once to float: ~1 ulp, 1e-6 relative.
      // The mean near 100 rounds to float with |error| <= 100 * 2^-24 ~ 6e-6.
      require_allclose("mean", fast.mean, mean, 1e-5, 1e-6);
      require_allclose("invstd", fast.invstd, invstd, 0, 1e-5);
      require_allclose("running mean", fast.running_mean, rm, 1e-5, 1e-6);
      require_allclose("running var", fast.running_var, rv, 0, 1e-5);
      // y = (x - mean) * scale + beta with |y| <= ~4: x - mean is exact to the rounding of mean
      // (<= 6e-6 at offset 100, times invstd ~1.7), plus 2-3 float roundings: 2e-5 absolute.
      require_allclose("y", fast.y, y, 2e-5, 1e-5);
      // Gradient sums over up to 6400 values of |dy| <= 1 run in double; dgamma/dbeta are
      // rounded once to float (1e-6 relative) plus the mean rounding above (x - mean).
      require_allclose("dbeta", fast.dbeta, db, 1e-5, 1e-6);
      require_allclose("dgamma", fast.dgamma, dg, 1e-4, 1e-5);
      // dx = k1*dy + k2*(x - mean) + k3: three float terms of magnitude <= ~2*gamma*invstd, a
      // few roundings each (~1e-6) plus the mean's rounding times k2: 2e-5 absolute.
      require_allclose("dx", fast.dx, dx, 2e-5, 1e-5);

      std::vector<float> y_eval(total);
      std::vector<double> y_eval_ref(total);
      batch_norm_forward_eval(x.data(), gamma.data(), beta.data(), fast.running_mean.data(),
                              fast.running_var.data(), 1e-5f, y_eval.data(), s);
      std::vector<double> rm_f = to_double(fast.running_mean), rv_f = to_double(fast.running_var);
      batch_norm_forward_eval_ref(xd.data(), gd.data(), bd.data(), rm_f.data(), rv_f.data(), 1e-5, y_eval_ref.data(),
                                  s);
      // x - running_mean is ~100 here, so |y| reaches ~100 * scale: relative 1e-5 plus 1e-5.
      require_allclose("eval y", y_eval, y_eval_ref, 1e-5, 1e-5);
    }
  }
}

TEST_CASE("fast batch norm is deterministic across thread counts", "[kernels]") {
  // Every channel's sums run in a fixed order inside one thread, so 1 and 2 threads agree bit
  // for bit (the shapes take the OpenMP path: 102400 and 131072 values).
  for (BatchNormShape s : {BatchNormShape{64, 16, 100}, BatchNormShape{256, 512, 1}}) {
    const int64_t total = s.n * s.c * s.hw;
    std::vector<float> x = to_float(random_values(total, 400, -1, 3)), dy = to_float(random_values(total, 401));
    std::vector<float> gamma = to_float(random_values(s.c, 402, 0.5, 1.5)), beta = to_float(random_values(s.c, 403));
    BatchNormResult one, two;
    with_threads(1, [&] { one = run_fast_batch_norm(x, gamma, beta, dy, s); });
    with_threads(2, [&] { two = run_fast_batch_norm(x, gamma, beta, dy, s); });
    CHECK(one.y == two.y);
    CHECK(one.running_var == two.running_var);
    CHECK(one.dx == two.dx);
    CHECK(one.dgamma == two.dgamma);
    CHECK(one.dbeta == two.dbeta);
  }
}

TEST_CASE("fast cross-entropy matches the double reference", "[kernels]") {
  uint64_t stream = 500;
  for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 10}, {7, 3}, {128, 10}, {4096, 10}, {33, 1000}}) {
    INFO("n=" << n << " k=" << k);
    std::vector<float> logits = to_float(random_values(n * k, stream++, -8, 8));
    std::vector<int32_t> labels = random_labels(n, k, stream++);
    std::vector<float> probs(n * k), grad(n * k);
    std::vector<double> logits_d = to_double(logits), probs_ref(n * k), grad_ref(n * k);
    const double loss_ref = cross_entropy_forward_ref(logits_d.data(), labels.data(), probs_ref.data(), n, k);
    const float loss = cross_entropy_forward(logits.data(), labels.data(), probs.data(), n, k);
    // float exp/log of shifted logits: a few ulps of the per-row loss (<= ~20), averaged.
    CHECK(loss == Approx(loss_ref).epsilon(1e-5));
    // Probabilities: exp (~1 ulp), a float sum of k terms (k * 2^-24 relative), one multiply.
    require_allclose("probs", probs, probs_ref, 1e-7, 1e-6 + static_cast<double>(k) * 6e-8);
    cross_entropy_backward(probs.data(), labels.data(), 0.5f, grad.data(), n, k);
    cross_entropy_backward_ref(probs_ref.data(), labels.data(), 0.5, grad_ref.data(), n, k);
    // probs * scale - scale in float: the error is the probs' error times scale plus one
    // rounding of scale-sized values.
    const double scale = 0.5 / static_cast<double>(n);
    require_allclose("dlogits", grad, grad_ref, 1e-6 * scale, 1e-6 + static_cast<double>(k) * 6e-8);
  }
}
