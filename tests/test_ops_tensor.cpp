// The ONNX-style tensor ops (framework/ops/tensor_ops.h: concat, transpose, pad_constant, matmul,
// gemm): hand-computed cases, bad arguments, every input's gradient against central differences,
// the matmul kernels (double reference against finite differences, fast path against the
// reference), gemm's linear() dispatch, and thread-count independence.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "framework/autograd.h"
#include "framework/ops/tensor_ops.h"
#include "framework/parallel.h"
#include "framework/random.h"
#include "kernels/cpu/matmul.h"
#include "tests/numeric_checks.h"
#include "tests/gpu_available.h"
#include "tests/random_tensor.h"

using namespace stuckat;
using namespace stuckat::test;

namespace {

Tensor make(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }

// 0, 1, 2, ... in a tensor of the given shape.
Tensor iota(const Shape& s) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  std::iota(v.begin(), v.end(), 0.0f);
  return make(v, s);
}

// Checks d(sum(f(inputs) * r))/d(input) from the graph, for every defined input, against central
// differences whose loss is summed in double. Every op here is linear in each single input, so
// the difference quotient is exact but for the float rounding of f's outputs: with a step of
// +-0.5 and |loss| of order 10, that is ~1e-6, far inside the tolerance of 1e-4 (+1e-4 relative),
// while a wrong or missing gradient term is off by O(0.1). An input the op ignores (gemm's C at
// beta = 0, a cropped-away pad input) may get no gradient; it counts as zero.
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
void check_gradients(const Fn& f, std::vector<Tensor> inputs, uint64_t seed) {
  for (Tensor& t : inputs)
    if (t.defined()) t.set_requires_grad(true);
  const Tensor y = f(inputs);
  RandomStream rng(seed, 7);
  const Tensor r = random_tensor(y.shape(), rng);
  run_backward(y, r);
  const std::vector<float> rv = r.to_vector();
  auto loss = [&](const std::vector<Tensor>& xs) {
    NoGradGuard no_grad;
    const std::vector<float> v = f(xs).to_vector();
    double s = 0.0;
    for (size_t i = 0; i < v.size(); ++i) s += static_cast<double>(v[i]) * rv[i];
    return s;
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) continue;
    INFO("input " << i << " of shape " << shape_str(inputs[i].shape()));
    std::vector<float> g = inputs[i].grad().defined() ? inputs[i].grad().to_vector()
                                                      : std::vector<float>(static_cast<size_t>(inputs[i].numel()), 0.0f);
    REQUIRE(static_cast<int64_t>(g.size()) == inputs[i].numel());
    std::vector<Tensor> xs;
    for (const Tensor& t : inputs) xs.push_back(t.defined() ? t.detach().clone() : Tensor());
    float* p = xs[i].data<float>();
    for (size_t e = 0; e < g.size(); ++e) {
      const float keep = p[e], up = keep + 0.5f, down = keep - 0.5f;
      p[e] = up;
      const double l_up = loss(xs);
      p[e] = down;
      const double l_down = loss(xs);
      p[e] = keep;
      const double fd = (l_up - l_down) / (static_cast<double>(up) - static_cast<double>(down));
      INFO("element " << e << ": graph " << g[e] << ", finite difference " << fd);
      REQUIRE(std::abs(g[e] - fd) <= 1e-4 + 1e-4 * std::abs(fd));
    }
  }
}

// Plain double product of row-major (m, k) and (k, n) blocks: the oracle of the op-level cases.
std::vector<double> naive_matmul(const float* a, const float* b, int64_t m, int64_t k, int64_t n) {
  std::vector<double> y(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) y[static_cast<size_t>(i * n + j)] += double(a[i * k + p]) * b[p * n + j];
  return y;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// concat

TEST_CASE("concat joins three inputs on axis 0, 1 and -1", "[ops]") {
  Tensor y0 = concat({make({1, 2}, {1, 2}), make({3, 4, 5, 6}, {2, 2}), make({7, 8}, {1, 2})}, 0);
  REQUIRE(y0.shape() == Shape{4, 2});
  REQUIRE(y0.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});

  Tensor y1 = concat({make({1, 2}, {2, 1}), make({3, 4, 5, 6}, {2, 2}), make({7, 8, 9, 10, 11, 12}, {2, 3})}, 1);
  REQUIRE(y1.shape() == Shape{2, 6});
  REQUIRE(y1.to_vector() == std::vector<float>{1, 3, 4, 7, 8, 9, 2, 5, 6, 10, 11, 12});

  const std::vector<Tensor> xs = {make({1, 2, 3, 4}, {2, 1, 2}), make({5, 6}, {2, 1, 1}), make({7, 8}, {2, 1, 1})};
  Tensor ym = concat(xs, -1);
  REQUIRE(ym.shape() == Shape{2, 1, 4});
  REQUIRE(ym.to_vector() == std::vector<float>{1, 2, 5, 7, 3, 4, 6, 8});
  REQUIRE(concat(xs, 2).to_vector() == ym.to_vector());

  // A piece of size 0 on the axis, a single input, and a strided (transposed) input.
  Tensor ye = concat({make({1, 2}, {2, 1}), Tensor::empty({2, 0}), make({3, 4}, {2, 1})}, 1);
  REQUIRE(ye.to_vector() == std::vector<float>{1, 3, 2, 4});
  REQUIRE(concat({make({1, 2}, {2})}, 0).to_vector() == std::vector<float>{1, 2});
}

TEST_CASE("concat rejects bad arguments naming the shapes", "[ops]") {
  REQUIRE_THROWS_WITH(concat({}, 0), Catch::Contains("concat"));
  REQUIRE_THROWS_WITH(concat({Tensor::zeros({2, 3}), Tensor::zeros({3, 3})}, 1),
                      Catch::Contains("concat") && Catch::Contains("(3, 3)") && Catch::Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(concat({Tensor::zeros({2, 3}), Tensor::zeros({2, 3, 1})}, 0), Catch::Contains("(2, 3, 1)"));
  REQUIRE_THROWS_WITH(concat({Tensor::zeros({2, 3})}, 2), Catch::Contains("axis 2"));
  REQUIRE_THROWS_WITH(concat({Tensor::zeros({2, 3})}, -3), Catch::Contains("axis -3"));
  REQUIRE_THROWS_WITH(concat({Tensor::full({}, 1.0f)}, 0), Catch::Contains("concat"));
  REQUIRE_THROWS_AS(concat({Tensor::zeros({2}, DType::I32)}, 0), Error);
}

TEST_CASE("concat gradients match finite differences for every input", "[ops]") {
  RandomStream rng(11, 1);
  for (int64_t axis : {0, 1, -1}) {
    INFO("axis " << axis);
    Shape s0{2, 3, 2}, s1{2, 3, 2}, s2{2, 3, 2};
    const size_t ax = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
    s0[ax] = 1;
    s1[ax] = 2;
    s2[ax] = 3;
    check_gradients([axis](const std::vector<Tensor>& x) { return concat(x, axis); },
                    {random_tensor(s0, rng), random_tensor(s1, rng), random_tensor(s2, rng)}, 20 + ax);
  }
  // Only some inputs requiring gradients: the others get none, and the rest are still right.
  Tensor a = make({1, 2}, {2, 1}), b = make({3, 4}, {2, 1});
  b.set_requires_grad(true);
  Tensor y = concat({a, b}, 1);
  run_backward(y, make({10, 20, 30, 40}, {2, 2}));
  REQUIRE_FALSE(a.grad().defined());
  REQUIRE(b.grad().to_vector() == std::vector<float>{20, 40});
}

// ---------------------------------------------------------------------------------------------
// transpose

TEST_CASE("transpose permutes rank 2, 3 and 4 tensors", "[ops]") {
  Tensor x2 = iota({2, 3});
  REQUIRE(transpose(x2, {1, 0}).shape() == Shape{3, 2});
  REQUIRE(transpose(x2, {1, 0}).to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
  REQUIRE(transpose(x2, {0, 1}).to_vector() == x2.to_vector());

  Tensor x3 = iota({1, 2, 3});  // x[0][b][c] = 3b + c
  REQUIRE(transpose(x3, {2, 0, 1}).shape() == Shape{3, 1, 2});
  REQUIRE(transpose(x3, {2, 0, 1}).to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
  REQUIRE(transpose(x3, {1, 2, 0}).shape() == Shape{2, 3, 1});
  REQUIRE(transpose(x3, {1, 2, 0}).to_vector() == std::vector<float>{0, 1, 2, 3, 4, 5});

  Tensor x4 = iota({1, 2, 2, 2});  // NCHW, x[0][c][h][w] = 4c + 2h + w
  REQUIRE(transpose(x4, {0, 2, 3, 1}).shape() == Shape{1, 2, 2, 2});
  REQUIRE(transpose(x4, {0, 2, 3, 1}).to_vector() == std::vector<float>{0, 4, 1, 5, 2, 6, 3, 7});  // NHWC
  REQUIRE(transpose(x4, {3, 2, 1, 0}).to_vector() == std::vector<float>{0, 4, 2, 6, 1, 5, 3, 7});

  // Every permutation of a rank-3 and a rank-4 tensor against the index formula.
  for (const Shape& shape : {Shape{2, 3, 4}, Shape{2, 3, 1, 4}}) {
    const Tensor x = iota(shape);
    const Shape st = contiguous_strides(shape);
    std::vector<int64_t> perm(shape.size());
    std::iota(perm.begin(), perm.end(), 0);
    do {
      INFO("shape " << shape_str(shape) << " perm " << shape_str(perm));
      const Tensor y = transpose(x, perm);
      Shape out(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) out[i] = shape[static_cast<size_t>(perm[i])];
      REQUIRE(y.shape() == out);
      const std::vector<float> v = y.to_vector();
      const Shape out_st = contiguous_strides(out);
      for (int64_t e = 0; e < y.numel(); ++e) {
        int64_t src = 0;  // x's flat index: output index i along dim d is input index i along perm[d]
        for (size_t d = 0; d < out.size(); ++d) src += (e / out_st[d]) % out[d] * st[static_cast<size_t>(perm[d])];
        REQUIRE(v[static_cast<size_t>(e)] == static_cast<float>(src));
      }
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
}

TEST_CASE("transpose rejects a perm that is not a permutation", "[ops]") {
  const Tensor x = Tensor::zeros({2, 3, 4});
  REQUIRE_THROWS_WITH(transpose(x, {1, 0}), Catch::Contains("transpose") && Catch::Contains("(2, 3, 4)"));
  REQUIRE_THROWS_WITH(transpose(x, {0, 0, 1}), Catch::Contains("(0, 0, 1)"));
  REQUIRE_THROWS_WITH(transpose(x, {0, 1, 3}), Catch::Contains("(0, 1, 3)"));
  REQUIRE_THROWS_WITH(transpose(x, {0, -1, 2}), Catch::Contains("transpose"));
}

TEST_CASE("transpose gradients match finite differences", "[ops]") {
  RandomStream rng(12, 1);
  for (const std::vector<int64_t>& perm : {std::vector<int64_t>{1, 0, 2}, {2, 0, 1}, {1, 2, 0}})
    check_gradients([perm](const std::vector<Tensor>& x) { return transpose(x[0], perm); },
                    {random_tensor({2, 3, 4}, rng)}, 30);
  check_gradients([](const std::vector<Tensor>& x) { return transpose(x[0], {0, 3, 1, 2}); },
                  {random_tensor({2, 1, 3, 2}, rng)}, 31);
}

// ---------------------------------------------------------------------------------------------
// pad_constant

TEST_CASE("pad_constant pads and crops with begins, ends and a value", "[ops]") {
  Tensor y1 = pad_constant(make({1, 2, 3}, {3}), {2, 1}, 9.0f);
  REQUIRE(y1.shape() == Shape{6});
  REQUIRE(y1.to_vector() == std::vector<float>{9, 9, 1, 2, 3, 9});

  // Begins (rows 1, cols 0), ends (rows 0, cols 2).
  Tensor y2 = pad_constant(make({1, 2, 3, 4}, {2, 2}), {1, 0, 0, 2}, 0.0f);
  REQUIRE(y2.shape() == Shape{3, 4});
  REQUIRE(y2.to_vector() == std::vector<float>{0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0});

  // Negative pads crop: drop the first column and the last row, add a column of 7 at the end.
  Tensor y3 = pad_constant(make({1, 2, 3, 4, 5, 6}, {2, 3}), {0, -1, -1, 1}, 7.0f);
  REQUIRE(y3.shape() == Shape{1, 3});
  REQUIRE(y3.to_vector() == std::vector<float>{2, 3, 7});

  // A crop on one side and a pad on the other of the same dimension, rank 3.
  Tensor y4 = pad_constant(iota({1, 2, 3}), {0, 0, -2, 0, 1, 1}, -1.0f);
  REQUIRE(y4.shape() == Shape{1, 3, 2});
  REQUIRE(y4.to_vector() == std::vector<float>{2, -1, 5, -1, -1, -1});

  // Zero pads copy; a crop to nothing leaves an empty tensor.
  REQUIRE(pad_constant(iota({2, 2}), {0, 0, 0, 0}, 3.0f).to_vector() == iota({2, 2}).to_vector());
  REQUIRE(pad_constant(iota({2, 2}), {0, 0, -2, 0}, 3.0f).shape() == Shape{0, 2});
}

TEST_CASE("pad_constant rejects bad pads naming the shapes", "[ops]") {
  REQUIRE_THROWS_WITH(pad_constant(Tensor::zeros({2, 3}), {1, 1}, 0.0f),
                      Catch::Contains("pad_constant") && Catch::Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(pad_constant(Tensor::zeros({2, 3}), {0, -3, 0, -1}, 0.0f),
                      Catch::Contains("pad_constant") && Catch::Contains("(2, 3)"));
}

TEST_CASE("pad_constant gradients are the matching slice of the output gradient", "[ops]") {
  // The cropping case above by hand: dx is dy where x survived, 0 where it was cropped.
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3});
  x.set_requires_grad(true);
  run_backward(pad_constant(x, {0, -1, -1, 1}, 7.0f), make({10, 20, 30}, {1, 3}));
  REQUIRE(x.grad().to_vector() == std::vector<float>{0, 10, 20, 0, 0, 0});

  RandomStream rng(13, 1);
  for (const std::vector<int64_t>& pads :
       {std::vector<int64_t>{1, 0, 2, 0, 2, 1}, {0, -1, 1, 1, 1, -2}, {-1, 2, 0, 0, -1, -1}, {0, 0, -3, 0, 0, 0}})
    check_gradients([pads](const std::vector<Tensor>& v) { return pad_constant(v[0], pads, 0.5f); },
                    {random_tensor({2, 3, 4}, rng)}, 40);
}

// ---------------------------------------------------------------------------------------------
// matmul

TEST_CASE("matmul: 1-D and 2-D operands by hand", "[ops]") {
  const Tensor b23 = make({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor v = matmul(make({1, 2}, {2}), b23);  // 1-D x 2-D
  REQUIRE(v.shape() == Shape{3});
  REQUIRE(v.to_vector() == std::vector<float>{9, 12, 15});

  Tensor w = matmul(b23, make({1, 0, -1}, {3}));  // 2-D x 1-D
  REQUIRE(w.shape() == Shape{2});
  REQUIRE(w.to_vector() == std::vector<float>{-2, -2});

  Tensor d = matmul(make({1, 2, 3}, {3}), make({4, 5, 6}, {3}));  // 1-D x 1-D: a scalar
  REQUIRE(d.shape() == Shape{});
  REQUIRE(d.item() == 32.0f);

  Tensor m = matmul(make({1, 2, 3, 4}, {2, 2}), make({5, 6, 7, 8}, {2, 2}));  // 2-D x 2-D
  REQUIRE(m.shape() == Shape{2, 2});
  REQUIRE(m.to_vector() == std::vector<float>{19, 22, 43, 50});

  Tensor e = matmul(Tensor::zeros({2, 0}), Tensor::zeros({0, 3}));  // an empty inner dimension sums to 0
  REQUIRE(e.to_vector() == std::vector<float>(6, 0.0f));
}

TEST_CASE("matmul: batched and broadcast batch dimensions", "[ops]") {
  // (2, 3, 4) x (4, 5): each batch slice times the one matrix.
  const Tensor a = iota({2, 3, 4});
  std::vector<float> bv(20);
  for (int i = 0; i < 20; ++i) bv[static_cast<size_t>(i)] = static_cast<float>(i % 7 - 3);
  const Tensor bb = make(bv, {4, 5});
  Tensor y = matmul(a, bb);
  REQUIRE(y.shape() == Shape{2, 3, 5});
  const std::vector<float> av = a.to_vector(), yv = y.to_vector();
  for (int64_t i = 0; i < 2; ++i) {
    std::vector<double> want = naive_matmul(av.data() + i * 12, bv.data(), 3, 4, 5);
    require_close(std::vector<float>(yv.begin() + i * 15, yv.begin() + (i + 1) * 15), want, 0.0, 0.0);
  }

  // (2, 1, 3, 4) x (5, 4, 2) -> (2, 5, 3, 2): out[i][j] = a[i][0] x b[j].
  RandomStream rng(14, 1);
  const Tensor a4 = random_tensor({2, 1, 3, 4}, rng), b3 = random_tensor({5, 4, 2}, rng);
  Tensor y4 = matmul(a4, b3);
  REQUIRE(y4.shape() == Shape{2, 5, 3, 2});
  const std::vector<float> a4v = a4.to_vector(), b3v = b3.to_vector(), y4v = y4.to_vector();
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      INFO("batch " << i << ", " << j);
      const std::vector<double> want = naive_matmul(a4v.data() + i * 12, b3v.data() + j * 8, 3, 4, 2);
      const auto first = y4v.begin() + (i * 5 + j) * 6;
      require_close(std::vector<float>(first, first + 6), want, 1e-6, 1e-6);
    }

  // 1-D operands against batches: (4) x (2, 4, 3) -> (2, 3) and (2, 3, 4) x (4) -> (2, 3).
  REQUIRE(matmul(make({1, 0, 0, 0}, {4}), iota({2, 4, 3})).to_vector() == std::vector<float>{0, 1, 2, 12, 13, 14});
  REQUIRE(matmul(iota({2, 3, 4}), make({0, 0, 0, 1}, {4})).to_vector() == std::vector<float>{3, 7, 11, 15, 19, 23});
}

TEST_CASE("matmul rejects bad shapes naming them", "[ops]") {
  REQUIRE_THROWS_WITH(matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 2})),
                      Catch::Contains("matmul") && Catch::Contains("(2, 3)") && Catch::Contains("(4, 2)"));
  REQUIRE_THROWS_WITH(matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 1})),
                      Catch::Contains("matmul") && Catch::Contains("(2, 2, 3)") && Catch::Contains("(3, 3, 1)"));
  REQUIRE_THROWS_WITH(matmul(Tensor::full({}, 1.0f), Tensor::zeros({1})), Catch::Contains("matmul"));
  REQUIRE_THROWS_AS(matmul(Tensor::zeros({2, 2}, DType::I32), Tensor::zeros({2, 2})), Error);
}

TEST_CASE("matmul gradients match finite differences for both operands", "[ops]") {
  RandomStream rng(15, 1);
  const auto f = [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); };
  for (const auto& shapes : std::vector<std::pair<Shape, Shape>>{{{3}, {3, 2}},
                                                                 {{2, 3}, {3}},
                                                                 {{3}, {3}},
                                                                 {{2, 3}, {3, 4}},
                                                                 {{2, 3, 4}, {4, 5}},
                                                                 {{2, 1, 3, 4}, {5, 4, 2}},
                                                                 {{4}, {2, 4, 3}},
                                                                 {{3, 2, 4}, {1, 4, 2}}}) {
    INFO(shape_str(shapes.first) << " x " << shape_str(shapes.second));
    check_gradients(f, {random_tensor(shapes.first, rng), random_tensor(shapes.second, rng)}, 50);
  }
}

// The double reference against central differences of itself, then the fast float path against
// the double reference (as in test_kernels_dense.cpp), for batch-broadcast index patterns.
namespace {

cpu::MatmulShape kernel_shape(int64_t m, int64_t k, int64_t n, int64_t a_count, int64_t b_count, int64_t batch) {
  cpu::MatmulShape s;
  s.m = m;
  s.k = k;
  s.n = n;
  s.a_count = a_count;
  s.b_count = b_count;
  for (int64_t i = 0; i < batch; ++i) {  // A varies slowest, B fastest, wrapping: both are shared
    s.a_index.push_back(i * a_count / batch);
    s.b_index.push_back(i % b_count);
  }
  return s;
}

template <typename T>
std::vector<T> random_values(int64_t count, RandomStream& rng) {
  std::vector<T> v(static_cast<size_t>(count));
  for (auto& e : v) e = static_cast<T>(rng.next_uniform(-1.0f, 1.0f));
  return v;
}

}  // namespace

TEST_CASE("matmul reference backward matches finite differences", "[ops]") {
  RandomStream rng(16, 1);
  for (const cpu::MatmulShape& s : {kernel_shape(2, 3, 4, 1, 1, 1), kernel_shape(3, 2, 2, 2, 3, 6),
                                    kernel_shape(1, 4, 3, 1, 2, 4), kernel_shape(2, 2, 1, 3, 1, 3)}) {
    INFO("m " << s.m << " k " << s.k << " n " << s.n << " batch " << s.batch());
    auto a = random_values<double>(s.a_count * s.m * s.k, rng), b = random_values<double>(s.b_count * s.k * s.n, rng);
    const auto r = random_values<double>(s.batch() * s.m * s.n, rng);
    auto loss = [&] {
      std::vector<double> y(r.size());
      cpu::matmul_forward_ref(a.data(), b.data(), y.data(), s);
      return std::inner_product(y.begin(), y.end(), r.begin(), 0.0);
    };
    std::vector<double> da(a.size()), db(b.size());
    cpu::matmul_backward_ref(a.data(), b.data(), r.data(), da.data(), db.data(), s);
    // Bilinear: the quotient with h = 1e-3 is exact up to ~1e-12 of rounding.
    for (std::vector<double>* param : {&a, &b}) {
      const std::vector<double>& grad = param == &a ? da : db;
      for (size_t i = 0; i < param->size(); ++i) {
        const double keep = (*param)[i];
        (*param)[i] = keep + 1e-3;
        const double up = loss();
        (*param)[i] = keep - 1e-3;
        const double down = loss();
        (*param)[i] = keep;
        REQUIRE(std::abs(grad[i] - (up - down) / 2e-3) <= 1e-8);
      }
    }
  }
}

TEST_CASE("matmul fast path matches the double reference on any thread count", "[ops]") {
  ThreadCountGuard guard;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Shapes over several blocks (64 rows x 512 columns), shared operands, and empty dimensions.
  for (const cpu::MatmulShape& s : {kernel_shape(3, 4, 5, 1, 1, 1), kernel_shape(150, 70, 600, 2, 1, 2),
                                    kernel_shape(7, 130, 9, 1, 3, 3), kernel_shape(65, 513, 66, 2, 2, 4),
                                    kernel_shape(5, 3, 1, 3, 1, 6), kernel_shape(4, 0, 3, 1, 2, 2),
                                    kernel_shape(0, 3, 4, 1, 1, 2)}) {
    INFO("m " << s.m << " k " << s.k << " n " << s.n << " batch " << s.batch());
    RandomStream rng(17, static_cast<uint64_t>(s.m * 1000 + s.k));
    const auto a = random_values<float>(s.a_count * s.m * s.k, rng), b = random_values<float>(s.b_count * s.k * s.n, rng);
    const auto dy = random_values<float>(s.batch() * s.m * s.n, rng);
    const std::vector<double> ad(a.begin(), a.end()), bd(b.begin(), b.end()), dyd(dy.begin(), dy.end());
    std::vector<double> y_ref(dy.size()), da_ref(a.size()), db_ref(b.size());
    cpu::matmul_forward_ref(ad.data(), bd.data(), y_ref.data(), s);
    cpu::matmul_backward_ref(ad.data(), bd.data(), dyd.data(), da_ref.data(), db_ref.data(), s);
    // Sums of `terms` products of values in [-1, 1]: atol 1e-6 per term (see test_kernels_dense.cpp).
    const int64_t a_uses = s.batch() / s.a_count, b_uses = s.batch() / s.b_count;
    std::vector<float> y1, da1, db1;
    for (int threads : {1, 2, 3}) {
      INFO("threads " << threads);
      set_num_threads(threads);
      std::vector<float> y(dy.size(), nan), da(a.size(), nan), db(b.size(), nan);  // must be overwritten
      cpu::matmul_forward(a.data(), b.data(), y.data(), s);
      cpu::matmul_backward(a.data(), b.data(), dy.data(), da.data(), db.data(), s);
      require_close(y, y_ref, 1e-6 * s.k + 1e-7, 1e-5);
      require_close(da, da_ref, 1e-6 * s.n * a_uses + 1e-7, 1e-5);
      require_close(db, db_ref, 1e-6 * s.m * b_uses + 1e-7, 1e-5);
      std::vector<float> db_only(b.size(), nan);
      cpu::matmul_backward(a.data(), b.data(), dy.data(), nullptr, db_only.data(), s);
      REQUIRE(db_only == db);
      if (threads == 1) {
        y1 = y;
        da1 = da;
        db1 = db;
      } else {  // bit for bit the single-threaded result
        REQUIRE(y == y1);
        REQUIRE(da == da1);
        REQUIRE(db == db1);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// gemm

namespace {

// alpha * A' B' + beta * C in double, C read through ONNX's unidirectional broadcast.
std::vector<double> gemm_formula(const Tensor& a, const Tensor& b, const Tensor& c, float alpha, float beta,
                                 bool ta, bool tb) {
  const int64_t m = a.size(ta ? 1 : 0), k = a.size(ta ? 0 : 1), n = b.size(tb ? 0 : 1);
  const std::vector<float> av = a.to_vector(), bv = b.to_vector();
  const std::vector<float> cv = c.defined() ? c.to_vector() : std::vector<float>();
  const int64_t cm = c.defined() && c.dim() == 2 ? c.size(0) : 1, cn = c.defined() && c.dim() >= 1 ? c.size(-1) : 1;
  std::vector<double> y(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < k; ++p)
        acc += double(av[static_cast<size_t>(ta ? p * m + i : i * k + p)]) * bv[static_cast<size_t>(tb ? j * k + p : p * n + j)];
      double bias = 0.0;
      if (c.defined() && beta != 0.0f) bias = cv[static_cast<size_t>((cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j))];
      y[static_cast<size_t>(i * n + j)] = alpha * acc + double(beta) * bias;
    }
  return y;
}

}  // namespace

TEST_CASE("gemm: every transpose, alpha, beta and C broadcast against the formula and finite differences", "[ops]") {
  const int64_t m = 3, k = 4, n = 2;
  RandomStream rng(18, 1);
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float alpha : {1.0f, 0.5f})
        for (float beta : {1.0f, -2.0f, 0.0f})
          for (const Shape& c_shape : {Shape{0}, Shape{n}, Shape{1, n}, Shape{m, 1}, Shape{m, n}, Shape{1}, Shape{},
                                       Shape{1, 1}}) {
            const bool has_c = c_shape != Shape{0};  // {0}: no C
            INFO("trans_a " << ta << " trans_b " << tb << " alpha " << alpha << " beta " << beta << " C "
                            << (has_c ? shape_str(c_shape) : "undefined"));
            const Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, rng);
            const Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, rng);
            const Tensor c = has_c ? random_tensor(c_shape, rng) : Tensor();
            const Tensor y = gemm(a, b, c, alpha, beta, ta, tb);
            REQUIRE(y.shape() == Shape{m, n});
            require_close(y.to_vector(), gemm_formula(a, b, c, alpha, beta, ta, tb), 1e-6, 1e-6);
            check_gradients(
                [=](const std::vector<Tensor>& x) { return gemm(x[0], x[1], x[2], alpha, beta, ta, tb); }, {a, b, c},
                60);
          }
}

TEST_CASE("gemm's common case runs as linear and equals the general formula", "[ops]") {
  RandomStream rng(19, 1);
  Tensor a = random_tensor({5, 7}, rng), w = random_tensor({3, 7}, rng), bias = random_tensor({3}, rng);
  a.set_requires_grad(true);
  w.set_requires_grad(true);
  bias.set_requires_grad(true);
  for (bool with_bias : {true, false}) {
    INFO("bias " << with_bias);
    const Tensor c = with_bias ? bias : Tensor();
    const Tensor y = gemm(a, w, c, 1.0f, 1.0f, false, true);
    REQUIRE(std::string(y.grad_fn()->name()) == "LinearBackward");
    // The general path on the same numbers: B given pre-transposed, C as a (1, N) row.
    const Tensor w_t = transpose(w.detach(), {1, 0});
    const Tensor y_general = gemm(a.detach(), w_t, with_bias ? bias.detach().view({1, 3}) : Tensor(), 1.0f, 1.0f, false, false);
    const std::vector<float> general = y_general.to_vector();
    require_close(y.to_vector(), std::vector<double>(general.begin(), general.end()), 1e-6, 1e-6);
    require_close(y.to_vector(), gemm_formula(a, w, c, 1.0f, 1.0f, false, true), 1e-6, 1e-6);
  }
  // Not the common case: alpha, a 2-D C or trans_a take the general path.
  REQUIRE(std::string(gemm(a, w, bias, 0.5f, 1.0f, false, true).grad_fn()->name()) != "LinearBackward");
  REQUIRE(std::string(gemm(a, w, bias.detach().view({1, 3}), 1.0f, 1.0f, false, true).grad_fn()->name()) !=
          "LinearBackward");
  // beta != 1 with no C is still linear (beta has nothing to scale).
  REQUIRE(std::string(gemm(a, w, Tensor(), 1.0f, 0.25f, false, true).grad_fn()->name()) == "LinearBackward");
}

TEST_CASE("gemm rejects bad shapes naming them", "[ops]") {
  const Tensor a = Tensor::zeros({3, 4}), b = Tensor::zeros({4, 2});
  REQUIRE_THROWS_WITH(gemm(a, b, Tensor(), 1.0f, 1.0f, true, false),
                      Catch::Contains("gemm") && Catch::Contains("(3, 4)") && Catch::Contains("(4, 2)"));
  REQUIRE_THROWS_WITH(gemm(a, b, Tensor::zeros({3}), 1.0f, 1.0f, false, false),
                      Catch::Contains("gemm") && Catch::Contains("(3,)"));
  REQUIRE_THROWS_WITH(gemm(a, b, Tensor::zeros({2, 3, 2}), 1.0f, 1.0f, false, false), Catch::Contains("(2, 3, 2)"));
  REQUIRE_THROWS_WITH(gemm(Tensor::zeros({1, 3, 4}), b, Tensor(), 1.0f, 1.0f, false, false),
                      Catch::Contains("gemm") && Catch::Contains("(1, 3, 4)"));
}

// ---------------------------------------------------------------------------------------------
// threads and devices

TEST_CASE("tensor ops give identical bits on 1 and 3 threads", "[ops]") {
  ThreadCountGuard guard;
  RandomStream rng(20, 1);
  // Sizes above the kernels' parallel thresholds.
  const Tensor c0 = random_tensor({100, 200}, rng), c1 = random_tensor({100, 150}, rng), c2 = random_tensor({100, 50}, rng);
  const Tensor t = random_tensor({40, 30, 50}, rng), p = random_tensor({128, 300}, rng);
  const Tensor ma = random_tensor({3, 1, 130, 70}, rng), mb = random_tensor({2, 70, 600}, rng);
  const Tensor ga = random_tensor({90, 200}, rng), gb = random_tensor({300, 90}, rng), gc = random_tensor({300}, rng);
  auto run = [&] {
    std::vector<std::vector<float>> out;
    std::vector<Tensor> leaves = {c0.clone(), c1.clone(), c2.clone(), t.clone(), p.clone(), ma.clone(), mb.clone(),
                                  ga.clone(), gb.clone(), gc.clone()};
    for (Tensor& l : leaves) l.set_requires_grad(true);
    const std::vector<Tensor> ys = {concat({leaves[0], leaves[1], leaves[2]}, 1), transpose(leaves[3], {2, 0, 1}),
                                    pad_constant(leaves[4], {3, -5, 2, 7}, 1.5f), matmul(leaves[5], leaves[6]),
                                    gemm(leaves[7], leaves[8], leaves[9], 0.5f, 2.0f, true, true)};
    for (const Tensor& y : ys) {
      RandomStream seed_rng(21, static_cast<uint64_t>(y.numel()));
      run_backward(y, random_tensor(y.shape(), seed_rng));
      out.push_back(y.to_vector());
    }
    for (const Tensor& l : leaves) out.push_back(l.grad().to_vector());
    return out;
  };
  set_num_threads(1);
  const auto one = run();
  set_num_threads(3);
  const auto three = run();
  REQUIRE(one.size() == three.size());
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("result " << i);
    REQUIRE(one[i] == three[i]);
  }
}

TEST_CASE("CUDA inputs: gemm's common case runs as linear, its general case through matmul", "[ops][cuda]") {
  if (!have_gpu("tensor ops on CUDA")) return;
  RandomStream rng(22, 1);
  const Tensor a = random_tensor({4, 6}, rng), w = random_tensor({3, 6}, rng), b = random_tensor({3}, rng);
  const Tensor ad = a.to(Device::CUDA), wd = w.to(Device::CUDA), bd = b.to(Device::CUDA);
  const Tensor y = gemm(ad, wd, bd, 1.0f, 1.0f, false, true);
  REQUIRE(y.device() == Device::CUDA);
  const std::vector<float> want = gemm(a, w, b, 1.0f, 1.0f, false, true).to_vector();
  require_close(y.to_vector(), std::vector<double>(want.begin(), want.end()), 1e-5, 1e-5);
  const std::vector<float> half = gemm(a, w, b, 0.5f, 1.0f, false, true).to_vector();  // not linear's form
  require_close(gemm(ad, wd, bd, 0.5f, 1.0f, false, true).to_vector(), std::vector<double>(half.begin(), half.end()), 1e-5,
                1e-5);
}
