// Tests for the ONNX element-wise ops (framework/ops/elementwise_ops.h): unary activations,
// broadcast binary arithmetic and softmax. Hand-computed values (kinks, NaN); the broadcast
// against a plain loop written here from its definition; the double references against central
// finite differences; the fast float paths against the references; gradients through the graph;
// identical bits at 1 and 3 threads; the error messages.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "base/device.h"
#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/elementwise_ops.h"
#include "framework/parallel.h"
#include "framework/random.h"
#include "kernels/cpu/broadcast_binary.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/unary_ops.h"
#include "tests/numeric_checks.h"

using namespace stuckat;
using namespace stuckat::test;

namespace {
constexpr uint64_t kSeed = 20240917;
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

// Finite differences in double (the policy of docs/DESIGN.md): step 1e-6 for piecewise-linear or
// bilinear functions (no truncation error), 1e-5 for smooth ones; tolerance 1e-6 * (1 + |numeric|).
constexpr double kStepLinear = 1e-6, kStepSmooth = 1e-5, kTol = 1e-6;

std::vector<double> random_values(int64_t n, uint64_t stream, double lo = -1.0, double hi = 1.0) {
  RandomStream rng(kSeed, stream);
  std::vector<double> v(n);
  for (auto& e : v) e = rng.next_uniform(static_cast<float>(lo), static_cast<float>(hi));
  return v;
}

// Values in [lo, hi] with a random sign (divisors kept away from 0).
std::vector<double> random_away_from_zero(int64_t n, uint64_t stream, double lo, double hi) {
  std::vector<double> v = random_values(n, stream, lo, hi), sign = random_values(n, stream + 1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = sign[i] < 0 ? -v[i] : v[i];
  return v;
}

Tensor tensor_of(const std::vector<double>& v, const Shape& shape, bool grad = false) {
  Tensor t = Tensor::from_vector(to_float(v), shape);
  if (grad) t.set_requires_grad(true);
  return t;
}

// Analytic gradient `grad` of loss() w.r.t. every element of v against central differences.
void require_gradient_matches(const char* what, std::vector<double>& v, const std::vector<double>& grad,
                              const std::function<double()>& loss, double h,
                              const std::function<bool(size_t)>& skip = nullptr) {
  REQUIRE(v.size() == grad.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (skip && skip(i)) continue;
    const double saved = v[i];
    v[i] = saved + h;
    const double up = loss();
    v[i] = saved - h;
    const double down = loss();
    v[i] = saved;
    const double numeric = (up - down) / (2 * h);
    if (!(std::abs(grad[i] - numeric) <= kTol * (1.0 + std::abs(numeric)))) {  // NaN fails too
      INFO(what << " element " << i << ": analytic " << grad[i] << ", numeric " << numeric);
      REQUIRE(std::abs(grad[i] - numeric) <= kTol * (1.0 + std::abs(numeric)));
    }
  }
}

// |actual - expected| <= atol + rtol*|expected| elementwise (a NaN expected must be a NaN, an
// infinity the same infinity).
template <typename A, typename E>
void require_allclose(const std::string& what, const std::vector<A>& actual, const std::vector<E>& expected,
                      double atol, double rtol) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    const bool ok = std::isnan(e) ? std::isnan(a) : a == e || std::abs(a - e) <= atol + rtol * std::abs(e);
    if (!ok) {
      INFO(what << " element " << i << ": got " << a << ", expected " << e);
      REQUIRE(ok);
    }
  }
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Runs body with the CPU backend at `threads` threads, restoring the previous count.
void with_threads(int threads, const std::function<void()>& body) {
  const int previous = num_threads();
  set_num_threads(threads);
  body();
  set_num_threads(previous);
}

// A (c, r) transposed view of a contiguous (r, c) tensor: a non-contiguous input.
Tensor transposed_view(const Tensor& t) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage();
  impl->shape = {t.size(1), t.size(0)};
  impl->strides = {1, t.size(1)};
  impl->dtype = DType::F32;
  return TensorImpl::wrap(impl);
}

// ------------------------------------------------------------------ unary helpers

struct UnarySetting {
  UnaryOp op;
  cpu::UnaryFn fn;
  double a, b;
  std::vector<double> kinks;  // where the gradient jumps (finite differences skip them)
  const char* name;
};

std::vector<UnarySetting> unary_settings() {
  using cpu::UnaryFn;
  return {{UnaryOp::Sigmoid, UnaryFn::Sigmoid, 0, 0, {}, "sigmoid"},
          {UnaryOp::Tanh, UnaryFn::Tanh, 0, 0, {}, "tanh"},
          {UnaryOp::LeakyRelu, UnaryFn::LeakyRelu, 0.1, 0, {0.0}, "leaky_relu"},
          {UnaryOp::HardSigmoid, UnaryFn::HardSigmoid, 0.2, 0.5, {-2.5, 2.5}, "hard_sigmoid"},
          {UnaryOp::HardSigmoid, UnaryFn::HardSigmoid, -0.3, 0.4, {4.0 / 3.0, -2.0}, "hard_sigmoid (a < 0)"},
          {UnaryOp::HardSwish, UnaryFn::HardSwish, 0, 0, {-3.0, 3.0}, "hard_swish"},
          {UnaryOp::Clip, UnaryFn::Clip, -0.5, 0.75, {-0.5, 0.75}, "clip"},
          {UnaryOp::Identity, UnaryFn::Identity, 0, 0, {}, "identity"}};
}

// Runs unary over xs, backward with dy = 1, and compares y and dx with the hand-computed values
// (within 1e-6 relative; a NaN expected must be a NaN).
void check_unary(UnaryOp op, float a, float b, const std::vector<float>& xs, const std::vector<float>& ys,
                 const std::vector<float>& dxs) {
  Tensor x = Tensor::from_vector(xs, {static_cast<int64_t>(xs.size())});
  x.set_requires_grad(true);
  Tensor y = unary(x, op, a, b);
  run_backward(y, Tensor::full(y.shape(), 1.0f));
  require_allclose("y", y.to_vector(), ys, 1e-6, 1e-6);
  require_allclose("dx", x.grad().to_vector(), dxs, 1e-6, 1e-6);
}

// ------------------------------------------------------------------ broadcast helpers

// The broadcast output shape by the definition (shapes aligned at the right, size 1 or missing
// dimensions take the other size); empty optional-like flag when they do not broadcast.
bool broadcast_by_definition(const Shape& a, const Shape& b, Shape* out) {
  const size_t r = std::max(a.size(), b.size());
  out->assign(r, 1);
  for (size_t k = 0; k < r; ++k) {
    const int64_t na = k < a.size() ? a[a.size() - 1 - k] : 1, nb = k < b.size() ? b[b.size() - 1 - k] : 1;
    if (na != nb && na != 1 && nb != 1) return false;
    (*out)[r - 1 - k] = std::max(na, nb);
  }
  return true;
}

// Flat index into a tensor of shape s of the output multi-index idx (s aligned at the right of
// idx; a size-1 dimension reads index 0).
int64_t input_index(const Shape& s, const std::vector<int64_t>& idx) {
  const size_t shift = idx.size() - s.size();
  int64_t off = 0;
  for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + (s[d] == 1 ? 0 : idx[shift + d]);
  return off;
}

double apply(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return 0;
}

// The plain loop: y = a op b, and the gradients of sum(dy * y) summed back to each input.
struct PlainResult {
  Shape out;
  std::vector<double> y, da, db;
};
PlainResult plain_binary(BinaryOp op, const std::vector<double>& a, const Shape& as, const std::vector<double>& b,
                         const Shape& bs, const std::vector<double>& dy) {
  PlainResult r;
  REQUIRE(broadcast_by_definition(as, bs, &r.out));
  const int64_t n = shape_numel(r.out);
  r.y.assign(n, 0);
  r.da.assign(a.size(), 0);
  r.db.assign(b.size(), 0);
  std::vector<int64_t> idx(r.out.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ia = input_index(as, idx), ib = input_index(bs, idx);
    r.y[i] = apply(op, a[ia], b[ib]);
    const double g = dy.empty() ? 0 : dy[i];
    switch (op) {
      case BinaryOp::Add: r.da[ia] += g; r.db[ib] += g; break;
      case BinaryOp::Sub: r.da[ia] += g; r.db[ib] -= g; break;
      case BinaryOp::Mul: r.da[ia] += g * b[ib]; r.db[ib] += g * a[ia]; break;
      case BinaryOp::Div: r.da[ia] += g / b[ib]; r.db[ib] -= g * a[ia] / (b[ib] * b[ib]); break;
    }
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < r.out[d]) break;
      idx[d] = 0;
    }
  }
  return r;
}

const BinaryOp kBinaryOps[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div};
const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "?";
}
cpu::BinaryFn kernel_fn(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return cpu::BinaryFn::Add;
    case BinaryOp::Sub: return cpu::BinaryFn::Sub;
    case BinaryOp::Mul: return cpu::BinaryFn::Mul;
    case BinaryOp::Div: return cpu::BinaryFn::Div;
  }
  return cpu::BinaryFn::Add;
}

// The small broadcast patterns of the brief, both ways round where they differ.
std::vector<std::pair<Shape, Shape>> small_patterns() {
  return {{{2, 3}, {3}},         {{3}, {2, 3}},          {{2, 1, 4}, {3, 1}},   {{}, {2, 2}},
          {{2, 2}, {}},          {{1}, {2, 2}},          {{1}, {2, 3, 4, 5}},   {{2, 3, 4, 5}, {1}},
          {{1, 3, 1, 1}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {1, 3, 1, 1}}, {{2, 3, 4, 5}, {2, 3, 4, 5}},
          {{4, 1}, {1, 5}},      {{2, 3, 4, 5}, {3, 1, 1}}, {{3, 1, 5, 1, 2}, {4, 1, 6, 1}}};
}

// Inputs for a pattern: a in [-2, 2], b away from zero (so Div stays well conditioned).
void pattern_inputs(const Shape& as, const Shape& bs, uint64_t stream, std::vector<double>* a,
                    std::vector<double>* b) {
  *a = random_values(shape_numel(as), stream, -2.0, 2.0);
  *b = random_away_from_zero(shape_numel(bs), stream + 1, 0.5, 1.5);
}

}  // namespace

// ================================================================== unary

TEST_CASE("unary ops: hand-computed values, kinks and NaN", "[ops]") {
  SECTION("sigmoid (large inputs saturate without NaN)") {
    check_unary(UnaryOp::Sigmoid, 0, 0, {0, 2, -2, 1000, -1000, kNaN},
                {0.5f, 0.8807970779778823f, 0.11920292202211755f, 1, 0, kNaN},
                {0.25f, 0.10499358540350652f, 0.10499358540350652f, 0, 0, kNaN});
  }
  SECTION("tanh") {
    check_unary(UnaryOp::Tanh, 0, 0, {0, 1, -1, 1000, -1000, kNaN},
                {0, 0.7615941559557649f, -0.7615941559557649f, 1, -1, kNaN},
                {1, 0.41997434161402614f, 0.41997434161402614f, 0, 0, kNaN});
  }
  SECTION("leaky relu: slope alpha at x == 0 (PyTorch: x > 0 ? 1 : alpha)") {
    check_unary(UnaryOp::LeakyRelu, 0.1f, 0, {-2, 0, 3, kNaN}, {-0.2f, 0, 3, kNaN}, {0.1f, 0.1f, 1, 0.1f});
  }
  SECTION("hard sigmoid: gradient 0 at both kinks and at NaN") {
    check_unary(UnaryOp::HardSigmoid, 0.2f, 0.5f, {-3, -2.5f, 0, 1, 2.5f, 4, kNaN}, {0, 0, 0.5f, 0.7f, 1, 1, kNaN},
                {0, 0, 0.2f, 0.2f, 0, 0, 0});
  }
  SECTION("hard swish: PyTorch's backward (x < -3 ? 0 : x <= 3 ? x/3 + 1/2 : 1)") {
    check_unary(UnaryOp::HardSwish, 0, 0, {-4, -3, -1.5f, 0, 1.5f, 3, 4, kNaN}, {0, 0, -0.375f, 0, 1.125f, 3, 4, kNaN},
                {0, -0.5f, 0, 0.5f, 1, 1.5f, 1, 1});
  }
  SECTION("clip: gradient 1 on the closed interval, NaN kept") {
    check_unary(UnaryOp::Clip, -1, 2, {-3, -1, 0.5f, 2, 5, kNaN}, {-1, -1, 0.5f, 2, 2, kNaN}, {0, 1, 1, 1, 0, 0});
  }
  SECTION("clip with absent bounds (+-inf) and one bound") {
    check_unary(UnaryOp::Clip, -kInf, kInf, {-1e30f, 0, 1e30f}, {-1e30f, 0, 1e30f}, {1, 1, 1});
    check_unary(UnaryOp::Clip, 0, kInf, {-1, 1}, {0, 1}, {0, 1});
    check_unary(UnaryOp::Clip, -kInf, 0, {-1, 1}, {-1, 0}, {1, 0});
  }
  SECTION("clip with lower > upper gives the upper bound everywhere (min(max(x, a), b))") {
    check_unary(UnaryOp::Clip, 2, 1, {0, 1.5f, 5}, {1, 1, 1}, {0, 0, 0});
  }
  SECTION("identity returns a copy") {
    check_unary(UnaryOp::Identity, 0, 0, {1, -2, kNaN, kInf}, {1, -2, kNaN, kInf}, {1, 1, 1, 1});
    Tensor x = Tensor::from_vector(std::vector<float>{1, 2}, {2});
    Tensor y = unary(x, UnaryOp::Identity);
    REQUIRE(y.storage() != x.storage());
  }
}

TEST_CASE("unary references in double match finite differences", "[ops]") {
  const int64_t n = 241;
  for (const UnarySetting& s : unary_settings()) {
    INFO(s.name);
    std::vector<double> x = random_values(n, 1, -4.5, 4.5), w = random_values(n, 2), y(n), dx(n);
    auto loss = [&] {
      cpu::unary_forward_ref(s.fn, s.a, s.b, x.data(), y.data(), n);
      return dot(w, y);
    };
    loss();
    cpu::unary_backward_ref(s.fn, s.a, s.b, x.data(), y.data(), w.data(), dx.data(), n);
    const bool smooth = s.op == UnaryOp::Sigmoid || s.op == UnaryOp::Tanh;
    require_gradient_matches(s.name, x, dx, loss, smooth ? kStepSmooth : kStepLinear, [&](size_t i) {
      for (double k : s.kinks)
        if (std::abs(x[i] - k) < 1e-3) return true;
      return false;
    });
  }
}

TEST_CASE("unary fast float path matches the reference; the op's gradient through the graph too", "[ops]") {
  const int64_t n = 100003;  // above the OpenMP threshold, not a multiple of the chunk
  for (const UnarySetting& s : unary_settings()) {
    INFO(s.name);
    std::vector<float> x = to_float(random_values(n, 3, -8.0, 8.0)), dy = to_float(random_values(n, 4));
    x[17] = kNaN;
    x[n - 1] = 1000.0f;
    x[n - 2] = -1000.0f;
    std::vector<double> xd = to_double(x), dyd = to_double(dy), yr(n), dxr(n);
    cpu::unary_forward_ref(s.fn, s.a, s.b, xd.data(), yr.data(), n);
    cpu::unary_backward_ref(s.fn, s.a, s.b, xd.data(), yr.data(), dyd.data(), dxr.data(), n);
    std::vector<float> y(n), dx(n);
    cpu::unary_forward(s.fn, static_cast<float>(s.a), static_cast<float>(s.b), x.data(), y.data(), n);
    cpu::unary_backward(s.fn, static_cast<float>(s.a), static_cast<float>(s.b), x.data(), y.data(), dy.data(),
                        dx.data(), n);
    // Float evaluation of exp / tanh and of a*x + b: a few ulp of the values involved.
    require_allclose("fast y", y, yr, 1e-6, 1e-5);
    require_allclose("fast dx", dx, dxr, 1e-6, 1e-5);

    // The op: same values, and its gradient through the graph.
    Tensor xt = Tensor::from_vector(x, {n});
    xt.set_requires_grad(true);
    Tensor yt = unary(xt, s.op, static_cast<float>(s.a), static_cast<float>(s.b));
    run_backward(yt, Tensor::from_vector(dy, {n}));
    REQUIRE(same_bits(yt.to_vector(), y));
    REQUIRE(same_bits(xt.grad().to_vector(), dx));
  }
}

TEST_CASE("relu_max_pool2d with gradients: the values and gradients of relu(max_pool2d) through the graph", "[ops]") {
  // Pool first (the fused training node) and ReLU first (the two ops), NaN and ties included.
  const std::vector<int64_t> shape = {4, 6, 12, 10};
  const int64_t n = 4 * 6 * 12 * 10, out = 4 * 6 * 6 * 5;
  std::vector<float> x = to_float(random_values(n, 7)), dy = to_float(random_values(out, 8));
  x[5] = kNaN, x[40] = 0.0f, x[41] = 0.0f;
  for (bool pool_first : {true, false}) {
    INFO("pool_first=" << pool_first);
    Tensor a = Tensor::from_vector(x, shape), b = Tensor::from_vector(x, shape);
    a.set_requires_grad(true), b.set_requires_grad(true);
    Tensor fused = relu_max_pool2d(a, 2, 2, pool_first);
    Tensor plain = pool_first ? relu(max_pool2d(b, 2, 2)) : max_pool2d(relu(b), 2, 2);
    run_backward(fused, Tensor::from_vector(dy, {4, 6, 6, 5}));
    run_backward(plain, Tensor::from_vector(dy, {4, 6, 6, 5}));
    REQUIRE(same_bits(fused.to_vector(), plain.to_vector()));
    REQUIRE(same_bits(a.grad().to_vector(), b.grad().to_vector()));
  }
}

// ================================================================== binary

TEST_CASE("binary ops broadcast like a plain loop written from the definition", "[ops]") {
  uint64_t stream = 10;
  for (const auto& [as, bs] : small_patterns()) {
    for (BinaryOp op : kBinaryOps) {
      INFO(op_name(op) << " " << shape_str(as) << " with " << shape_str(bs));
      std::vector<double> a, b;
      pattern_inputs(as, bs, stream, &a, &b);
      stream += 2;
      // The inputs as floats, exactly: the plain loop sees the same values.
      a = to_double(to_float(a));
      b = to_double(to_float(b));
      Shape out;
      REQUIRE(broadcast_by_definition(as, bs, &out));
      std::vector<double> dy = to_double(to_float(random_values(shape_numel(out), stream++)));
      const PlainResult plain = plain_binary(op, a, as, b, bs, dy);

      Tensor at = tensor_of(a, as, true), bt = tensor_of(b, bs, true);
      Tensor y = binary(at, bt, op);
      REQUIRE(y.shape() == plain.out);
      // One float operation per element: computed in double and rounded, it is the same value.
      const std::vector<float> yv = y.to_vector();
      for (size_t i = 0; i < yv.size(); ++i) REQUIRE(yv[i] == static_cast<float>(plain.y[i]));
      // Both inputs require gradients: each is summed back to its own shape.
      run_backward(y, tensor_of(dy, out));
      REQUIRE(at.grad().shape() == as);
      REQUIRE(bt.grad().shape() == bs);
      require_allclose("da", at.grad().to_vector(), plain.da, 1e-4, 1e-5);
      require_allclose("db", bt.grad().to_vector(), plain.db, 1e-4, 1e-5);

      // The double reference kernel against the same loop (same order of sums: equal to rounding).
      cpu::BroadcastPlan plan;
      REQUIRE(cpu::plan_broadcast(as, bs, &plan));
      REQUIRE(plan.out_shape == out);
      std::vector<double> yr(plan.out_numel()), da(a.size()), db(b.size());
      cpu::binary_forward_ref(kernel_fn(op), a.data(), b.data(), yr.data(), plan);
      cpu::binary_backward_ref(kernel_fn(op), a.data(), b.data(), dy.data(), da.data(), db.data(), plan);
      require_allclose("ref y", yr, plain.y, 0, 0);
      require_allclose("ref da", da, plain.da, 1e-12, 1e-12);
      require_allclose("ref db", db, plain.db, 1e-12, 1e-12);
      if (op == BinaryOp::Add) {  // the bare reduction: dy summed to each input's shape
        std::vector<double> ra(a.size()), rb(b.size());
        cpu::reduce_to_input_ref(dy.data(), ra.data(), static_cast<int64_t>(a.size()), plan.a_strides, plan);
        cpu::reduce_to_input_ref(dy.data(), rb.data(), static_cast<int64_t>(b.size()), plan.b_strides, plan);
        require_allclose("reduce a", ra, plain.da, 1e-12, 1e-12);
        require_allclose("reduce b", rb, plain.db, 1e-12, 1e-12);
      }
    }
  }
}

TEST_CASE("binary references in double match finite differences (both inputs, every pattern)", "[ops]") {
  uint64_t stream = 200;
  for (const auto& [as, bs] : small_patterns()) {
    for (BinaryOp op : kBinaryOps) {
      INFO(op_name(op) << " " << shape_str(as) << " with " << shape_str(bs));
      std::vector<double> a, b;
      pattern_inputs(as, bs, stream, &a, &b);
      stream += 2;
      cpu::BroadcastPlan plan;
      REQUIRE(cpu::plan_broadcast(as, bs, &plan));
      std::vector<double> w = random_values(plan.out_numel(), stream++), y(plan.out_numel());
      std::vector<double> da(a.size()), db(b.size());
      auto loss = [&] {
        cpu::binary_forward_ref(kernel_fn(op), a.data(), b.data(), y.data(), plan);
        return dot(w, y);
      };
      cpu::binary_backward_ref(kernel_fn(op), a.data(), b.data(), w.data(), da.data(), db.data(), plan);
      require_gradient_matches("da", a, da, loss, kStepLinear);  // linear in a for every op
      require_gradient_matches("db", b, db, loss, op == BinaryOp::Div ? kStepSmooth : kStepLinear);
    }
  }
}

TEST_CASE("binary fast float path matches the reference on large and odd shapes", "[ops]") {
  const std::vector<std::pair<Shape, Shape>> patterns = {
      {{8, 16, 32, 32}, {1, 16, 1, 1}}, {{1, 16, 1, 1}, {8, 16, 32, 32}}, {{1}, {8, 16, 32, 32}},
      {{8, 16, 32, 32}, {}},            {{64, 1000}, {1000}},             {{2000, 3}, {2000, 1}},
      {{100003}, {100003}},             {{3, 1, 5, 1, 7}, {4, 1, 6, 1}},  {{7, 1}, {1, 9000}},
      {{2, 3}, {3}}};
  uint64_t stream = 400;
  for (const auto& [as, bs] : patterns) {
    cpu::BroadcastPlan plan;
    REQUIRE(cpu::plan_broadcast(as, bs, &plan));
    std::vector<double> ad, bd;
    pattern_inputs(as, bs, stream, &ad, &bd);
    stream += 2;
    const std::vector<float> a = to_float(ad), b = to_float(bd), dy = to_float(random_values(plan.out_numel(), stream++));
    ad = to_double(a);
    bd = to_double(b);
    const std::vector<double> dyd = to_double(dy);
    for (BinaryOp op : kBinaryOps) {
      INFO(op_name(op) << " " << shape_str(as) << " with " << shape_str(bs));
      const cpu::BinaryFn fn = kernel_fn(op);
      std::vector<float> y(plan.out_numel()), yr(plan.out_numel()), da(a.size()), db(b.size());
      cpu::binary_forward(fn, a.data(), b.data(), y.data(), plan);
      cpu::binary_forward_ref(fn, a.data(), b.data(), yr.data(), plan);
      REQUIRE(same_bits(y, yr));  // one float operation per element either way
      std::vector<double> dar(a.size()), dbr(b.size());
      cpu::binary_backward(fn, a.data(), b.data(), dy.data(), da.data(), db.data(), plan);
      cpu::binary_backward_ref(fn, ad.data(), bd.data(), dyd.data(), dar.data(), dbr.data(), plan);
      // Float sums of up to `terms` values of magnitude <= ~4: 1e-6 per term covers the rounding.
      const double terms_a = static_cast<double>(plan.out_numel()) / static_cast<double>(a.size());
      const double terms_b = static_cast<double>(plan.out_numel()) / static_cast<double>(b.size());
      require_allclose("da", da, dar, 1e-6 * terms_a, 1e-5);
      require_allclose("db", db, dbr, 1e-6 * terms_b, 1e-5);
      // One gradient alone (the other input a constant) is the same.
      std::vector<float> da_only(a.size());
      cpu::binary_backward(fn, a.data(), b.data(), dy.data(), da_only.data(), nullptr, plan);
      REQUIRE(same_bits(da_only, da));
    }
  }
}

TEST_CASE("binary fast float path matches the reference on random broadcast shapes", "[ops]") {
  // Ranks 0-5, sizes 1-4, each dimension of each input kept, set to 1 or dropped at random:
  // every way the fast path can merge dimensions.
  RandomStream rng(kSeed, 450);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t rank = rng.next_below(6);
    Shape out(rank), as, bs;
    for (auto& d : out) d = 1 + rng.next_below(4);
    const int64_t a_drop = rng.next_below(static_cast<uint32_t>(rank + 1)), b_drop = rng.next_below(2) ? 0 : a_drop;
    for (int64_t d = 0; d < rank; ++d) {
      if (d >= a_drop) as.push_back(rng.next_below(3) == 0 ? 1 : out[d]);
      if (d >= b_drop) bs.push_back(rng.next_below(3) == 0 ? 1 : out[d]);
    }
    cpu::BroadcastPlan plan;
    REQUIRE(cpu::plan_broadcast(as, bs, &plan));
    std::vector<double> ad, bd;
    pattern_inputs(as, bs, 460 + 2 * trial, &ad, &bd);
    const std::vector<float> a = to_float(ad), b = to_float(bd), dy = to_float(random_values(plan.out_numel(), 459));
    for (BinaryOp op : kBinaryOps) {
      INFO(op_name(op) << " " << shape_str(as) << " with " << shape_str(bs));
      const cpu::BinaryFn fn = kernel_fn(op);
      std::vector<float> y(plan.out_numel()), yr(plan.out_numel()), da(a.size()), db(b.size()), dar(a.size()),
          dbr(b.size());
      cpu::binary_forward(fn, a.data(), b.data(), y.data(), plan);
      cpu::binary_forward_ref(fn, a.data(), b.data(), yr.data(), plan);
      REQUIRE(same_bits(y, yr));
      cpu::binary_backward(fn, a.data(), b.data(), dy.data(), da.data(), db.data(), plan);
      cpu::binary_backward_ref(fn, a.data(), b.data(), dy.data(), dar.data(), dbr.data(), plan);
      require_allclose("da", da, dar, 1e-5, 1e-5);
      require_allclose("db", db, dbr, 1e-5, 1e-5);
    }
  }
}

TEST_CASE("binary with a constant operand gives a gradient to the other only", "[ops]") {
  Tensor a = tensor_of(random_values(6, 500), {2, 3}, true);
  Tensor b = tensor_of(random_away_from_zero(3, 501, 0.5, 1.5), {3}, false);
  Tensor y = binary(a, b, BinaryOp::Div);
  run_backward(y, Tensor::full({2, 3}, 1.0f));
  REQUIRE_FALSE(b.grad().defined());
  const std::vector<float> bv = b.to_vector(), ga = a.grad().to_vector();
  for (int64_t i = 0; i < 6; ++i) REQUIRE(ga[i] == Approx(1.0f / bv[i % 3]));

  Tensor a2 = tensor_of(random_values(6, 502), {2, 3}, false), b2 = tensor_of(random_values(3, 503), {3}, true);
  Tensor y2 = binary(a2, b2, BinaryOp::Sub);
  run_backward(y2, Tensor::full({2, 3}, 1.0f));
  REQUIRE_FALSE(a2.grad().defined());
  REQUIRE(b2.grad().to_vector() == std::vector<float>{-2, -2, -2});

  Tensor y3 = binary(a2, Tensor::full({1}, 2.0f), BinaryOp::Mul);
  REQUIRE_FALSE(y3.requires_grad());
  REQUIRE(y3.grad_fn() == nullptr);
}

// ================================================================== softmax

TEST_CASE("softmax: rows sum to 1, log-softmax is log(softmax), any axis", "[ops]") {
  const Shape shape{2, 3, 4};
  const std::vector<double> xd = random_values(24, 600, -3.0, 3.0);
  for (int64_t axis : {0, 1, 2, -1, -3}) {
    INFO("axis " << axis);
    Tensor x = tensor_of(xd, shape);
    const std::vector<float> p = softmax(x, axis, false).to_vector(), lp = softmax(x, axis, true).to_vector();
    const int64_t ax = axis < 0 ? axis + 3 : axis;
    const int64_t inner = ax == 2 ? 1 : ax == 1 ? 4 : 12, outer = 24 / (inner * shape[ax]);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        double sum = 0;
        for (int64_t k = 0; k < shape[ax]; ++k) {
          const int64_t j = (o * shape[ax] + k) * inner + i;
          sum += p[j];
          REQUIRE(p[j] > 0);
          REQUIRE(std::abs(lp[j] - std::log(p[j])) <= 1e-6 * (1 + std::abs(lp[j])));
        }
        REQUIRE(std::abs(sum - 1.0) <= 1e-6);
      }
    }
  }
}

TEST_CASE("softmax of large inputs does not overflow", "[ops]") {
  Tensor x = Tensor::from_vector(std::vector<float>{1000, 1000, 999, -1000, 0, 1000}, {2, 3});
  const std::vector<float> p = softmax(x, 1, false).to_vector(), lp = softmax(x, -1, true).to_vector();
  const double s = 2 + std::exp(-1.0);
  require_allclose("softmax", p, std::vector<double>{1 / s, 1 / s, std::exp(-1.0) / s, 0, 0, 1}, 1e-7, 1e-6);
  require_allclose("log_softmax", lp,
                   std::vector<double>{-std::log(s), -std::log(s), -1 - std::log(s), -2000, -1000, 0}, 1e-6, 1e-6);
}

TEST_CASE("softmax references in double match finite differences", "[ops]") {
  for (cpu::SoftmaxShape s : {cpu::SoftmaxShape{2, 5, 3}, cpu::SoftmaxShape{3, 4, 1}, cpu::SoftmaxShape{1, 6, 1},
                              cpu::SoftmaxShape{4, 1, 2}}) {
    for (bool log : {false, true}) {
      INFO("outer " << s.outer << " axis " << s.axis << " inner " << s.inner << (log ? " log" : ""));
      std::vector<double> x = random_values(s.numel(), 700, -3.0, 3.0), w = random_values(s.numel(), 701);
      std::vector<double> y(s.numel()), dx(s.numel());
      auto loss = [&] {
        cpu::softmax_forward_ref(x.data(), y.data(), s, log);
        return dot(w, y);
      };
      loss();
      cpu::softmax_backward_ref(y.data(), w.data(), dx.data(), s, log);
      require_gradient_matches("softmax dx", x, dx, loss, kStepSmooth);
    }
  }
}

TEST_CASE("softmax fast float path and the op's gradient match the reference", "[ops]") {
  for (cpu::SoftmaxShape s : {cpu::SoftmaxShape{64, 1000, 1}, cpu::SoftmaxShape{8, 10, 300},
                              cpu::SoftmaxShape{3, 7, 1000}, cpu::SoftmaxShape{5, 1, 7}}) {
    for (bool log : {false, true}) {
      INFO("outer " << s.outer << " axis " << s.axis << " inner " << s.inner << (log ? " log" : ""));
      const std::vector<float> x = to_float(random_values(s.numel(), 710, -10.0, 10.0)),
                               dy = to_float(random_values(s.numel(), 711));
      const std::vector<double> xd = to_double(x), dyd = to_double(dy);
      std::vector<double> yr(s.numel()), dxr(s.numel());
      cpu::softmax_forward_ref(xd.data(), yr.data(), s, log);
      cpu::softmax_backward_ref(yr.data(), dyd.data(), dxr.data(), s, log);
      std::vector<float> y(s.numel()), dx(s.numel());
      cpu::softmax_forward(x.data(), y.data(), s, log);
      // The float backward reads the float output, whose rounding (1e-7 relative) it carries into dx.
      cpu::softmax_backward(y.data(), dy.data(), dx.data(), s, log);
      require_allclose("fast y", y, yr, log ? 1e-5 : 1e-7, 1e-5);
      require_allclose("fast dx", dx, dxr, 1e-5, 1e-4);

      // Through the op, with the axis in the middle: (outer, axis, inner).
      Tensor xt = Tensor::from_vector(x, {s.outer, s.axis, s.inner});
      xt.set_requires_grad(true);
      Tensor yt = softmax(xt, 1, log);
      run_backward(yt, Tensor::from_vector(dy, yt.shape()));
      REQUIRE(same_bits(yt.to_vector(), y));
      REQUIRE(same_bits(xt.grad().to_vector(), dx));
    }
  }
}

// ================================================================== all ops

TEST_CASE("non-contiguous inputs are made contiguous first", "[ops]") {
  Tensor base = tensor_of(random_values(12, 800), {3, 4});
  Tensor view = transposed_view(base);  // (4, 3), strides (1, 4)
  REQUIRE_FALSE(view.is_contiguous());
  Tensor copy = view.contiguous();
  REQUIRE(same_bits(unary(view, UnaryOp::Tanh).to_vector(), unary(copy, UnaryOp::Tanh).to_vector()));
  Tensor row = tensor_of(random_values(3, 801), {3});
  REQUIRE(same_bits(binary(view, row, BinaryOp::Mul).to_vector(), binary(copy, row, BinaryOp::Mul).to_vector()));
  REQUIRE(same_bits(softmax(view, 0, true).to_vector(), softmax(copy, 0, true).to_vector()));
}

TEST_CASE("1 and 3 threads give identical bits", "[ops]") {
  // Every output and gradient of a set of large cases, at a given thread count.
  auto run_all = [] {
    std::vector<std::vector<float>> results;
    for (const UnarySetting& s : unary_settings()) {
      Tensor x = tensor_of(random_values(200003, 900, -5.0, 5.0), {200003}, true);
      Tensor y = unary(x, s.op, static_cast<float>(s.a), static_cast<float>(s.b));
      run_backward(y, tensor_of(random_values(200003, 901), {200003}));
      results.push_back(y.to_vector());
      results.push_back(x.grad().to_vector());
    }
    const std::vector<std::pair<Shape, Shape>> patterns = {{{8, 16, 32, 32}, {1, 16, 1, 1}},
                                                           {{1}, {8, 16, 32, 32}},
                                                           {{640, 100}, {100}},
                                                           {{3000, 40}, {3000, 1}},
                                                           {{50000}, {50000}}};
    uint64_t stream = 910;
    for (const auto& [as, bs] : patterns) {
      for (BinaryOp op : kBinaryOps) {
        std::vector<double> ad, bd;
        pattern_inputs(as, bs, stream, &ad, &bd);
        Tensor a = tensor_of(ad, as, true), b = tensor_of(bd, bs, true);
        Tensor y = binary(a, b, op);
        run_backward(y, tensor_of(random_values(y.numel(), stream + 2), y.shape()));
        results.push_back(y.to_vector());
        results.push_back(a.grad().to_vector());
        results.push_back(b.grad().to_vector());
      }
      stream += 3;
    }
    for (const Shape& shape : {Shape{64, 1000}, Shape{8, 40, 300}}) {
      for (bool log : {false, true}) {
        Tensor x = tensor_of(random_values(shape_numel(shape), 950, -10.0, 10.0), shape, true);
        Tensor y = softmax(x, shape.size() == 2 ? -1 : 1, log);
        run_backward(y, tensor_of(random_values(y.numel(), 951), y.shape()));
        results.push_back(y.to_vector());
        results.push_back(x.grad().to_vector());
      }
    }
    return results;
  };
  std::vector<std::vector<float>> one, three;
  with_threads(1, [&] { one = run_all(); });
  with_threads(3, [&] { three = run_all(); });
  REQUIRE(one.size() == three.size());
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("result " << i);
    REQUIRE(same_bits(one[i], three[i]));
  }
}

TEST_CASE("empty tensors give empty outputs and zero gradients", "[ops]") {
  Tensor a = Tensor::zeros({0, 3}), b = Tensor::full({3}, 2.0f);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor y = binary(a, b, BinaryOp::Mul);
  REQUIRE(y.shape() == Shape{0, 3});
  run_backward(y, Tensor::zeros({0, 3}));
  REQUIRE(b.grad().to_vector() == std::vector<float>{0, 0, 0});
  REQUIRE(a.grad().numel() == 0);
  REQUIRE(unary(Tensor::zeros({0}), UnaryOp::Sigmoid).numel() == 0);
  REQUIRE(softmax(Tensor::zeros({0, 4}), 1, false).shape() == Shape{0, 4});
  REQUIRE(softmax(Tensor::zeros({2, 0}), 1, true).shape() == Shape{2, 0});
}

TEST_CASE("bad shapes, axes and devices fail naming the op", "[ops]") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  REQUIRE_THROWS_WITH(binary(a, b, BinaryOp::Add),
                      Catch::Contains("add: shapes (2, 3) and (4,) do not broadcast"));
  REQUIRE_THROWS_WITH(binary(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 1, 4}), BinaryOp::Div),
                      Catch::Contains("div: shapes (2, 3, 4) and (3, 1, 4) do not broadcast"));
  Tensor x = Tensor::zeros({2, 3, 4});
  REQUIRE_THROWS_WITH(softmax(x, 3, false), Catch::Contains("softmax: axis 3 out of range for shape (2, 3, 4)"));
  REQUIRE_THROWS_WITH(softmax(x, -4, true), Catch::Contains("log_softmax: axis -4 out of range for shape (2, 3, 4)"));
  REQUIRE_THROWS_WITH(unary(Tensor::zeros({2}, DType::I32), UnaryOp::Tanh), Catch::Contains("tanh: input must be f32"));
}
