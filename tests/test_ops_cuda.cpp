// The ONNX-importer ops on the GPU against the same ops on the CPU, forward and backward through
// run_backward: unary activations (kinks and NaN included), broadcast add/sub/mul/div, softmax and
// log-softmax, concat, transpose and constant pad (negative crops). All [cuda]: they SKIP (warn and
// return) when built without CUDA or when no GPU is present (tests/gpu_available.h).
//
// Comparisons: |got - ref| <= atol + rtol * |ref| + atol_rms * RMS(ref) per element, NaNs in the
// same places. The copies (concat, transpose, pad) and the sums taken in the CPU's order must be
// exact; elementwise math allows 1e-6 relative (expf / tanhf differ from the host's by an ulp or
// two); reductions whose order may differ from the CPU fast path's add 4e-6 of the RMS.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/device.h"
#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/elementwise_ops.h"
#include "framework/ops/tensor_ops.h"
#include "framework/random.h"
#include "framework/tensor.h"
#include "tests/gpu_available.h"
#include "tests/random_tensor.h"

using namespace stuckat;

namespace {

struct Tolerance {
  double atol, rtol, atol_rms;
};
constexpr Tolerance kExact{0.0, 0.0, 0.0};
constexpr Tolerance kElementwise{1e-6, 1e-6, 0.0};
constexpr Tolerance kSum{1e-6, 1e-6, 4e-6};

void require_match(const std::vector<float>& got, const std::vector<float>& ref, Tolerance t, const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == ref.size());
  double sq = 0;
  size_t finite = 0;
  for (float r : ref)
    if (!std::isnan(r)) {
      sq += static_cast<double>(r) * r;
      ++finite;
    }
  const double atol = t.atol + (finite ? t.atol_rms * std::sqrt(sq / static_cast<double>(finite)) : 0.0);
  for (size_t i = 0; i < ref.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << " want " << ref[i]);
    REQUIRE(std::isnan(got[i]) == std::isnan(ref[i]));
    if (std::isnan(ref[i])) continue;
    REQUIRE(std::abs(static_cast<double>(got[i]) - ref[i]) <= atol + t.rtol * std::abs(static_cast<double>(ref[i])));
  }
}

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs op on copies of `inputs` on `device` that require gradients, then run_backward from `dy`;
// returns the output followed by each input's gradient, on the host.
std::vector<std::vector<float>> run_op(const Op& op, const std::vector<Tensor>& inputs, const Tensor& dy,
                                       Device device) {
  std::vector<Tensor> xs;
  for (const Tensor& t : inputs) {
    Tensor c = t.clone().to(device);
    c.set_requires_grad(true);
    xs.push_back(c);
  }
  Tensor y = op(xs);
  REQUIRE(y.device() == device);
  std::vector<std::vector<float>> out{y.to_vector()};
  run_backward(y, dy.to(device));
  for (const Tensor& x : xs) {
    REQUIRE(x.grad().defined());
    REQUIRE(x.grad().device() == device);
    REQUIRE(x.grad().shape() == x.shape());
    out.push_back(x.grad().to_vector());
  }
  return out;
}

void check_op(const std::string& name, const Op& op, const std::vector<Tensor>& inputs, RandomStream& rng,
              Tolerance fwd, Tolerance bwd) {
  Shape y_shape;
  {
    NoGradGuard no_grad;
    y_shape = op(inputs).shape();
  }
  const Tensor dy = random_tensor(y_shape, rng);
  const auto ref = run_op(op, inputs, dy, Device::CPU);
  const auto got = run_op(op, inputs, dy, Device::CUDA);
  require_match(got[0], ref[0], fwd, name + " forward");
  for (size_t i = 1; i < ref.size(); ++i)
    require_match(got[i], ref[i], bwd, name + " gradient of input " + std::to_string(i - 1));
}

std::string shape_text(const Shape& s) { return shape_str(s); }

}  // namespace

TEST_CASE("CUDA unary activations equal the CPU, kinks and NaN included", "[cuda][ops]") {
  if (!have_gpu("unary ops")) return;
  RandomStream rng(31, 1);
  // Random values over the interesting range, then the kinks, bounds and NaN exactly.
  std::vector<float> v = random_tensor({4, 5, 6}, rng, -5.0f, 5.0f).to_vector();
  const float special[] = {std::nanf(""), -3.0f, 3.0f, 0.0f, -0.0f, -0.5f, 0.5f, -2.5f, 2.5f, 1e3f, -1e3f, 1e-8f};
  for (size_t i = 0; i < sizeof(special) / sizeof(float); ++i) v[i * 7] = special[i];
  const Tensor x = Tensor::from_vector(v, {4, 5, 6});
  struct Case {
    UnaryOp op;
    float a, b;
    const char* name;
  };
  // HardSigmoid with b = 0.5 and a = 0.2 reaches its kinks at x = -2.5 and 2.5 exactly; Clip's
  // bounds -0.5 and 0.5 are in the data.
  for (const Case& c : {Case{UnaryOp::Sigmoid, 0, 0, "sigmoid"}, Case{UnaryOp::Tanh, 0, 0, "tanh"},
                        Case{UnaryOp::LeakyRelu, 0.01f, 0, "leaky_relu"},
                        Case{UnaryOp::HardSigmoid, 0.2f, 0.5f, "hard_sigmoid"},
                        Case{UnaryOp::HardSwish, 0, 0, "hard_swish"}, Case{UnaryOp::Clip, -0.5f, 0.5f, "clip"},
                        Case{UnaryOp::Clip, -INFINITY, 0.5f, "clip (no lower bound)"},
                        Case{UnaryOp::Identity, 0, 0, "identity"}}) {
    check_op(c.name, [&](const std::vector<Tensor>& t) { return unary(t[0], c.op, c.a, c.b); }, {x}, rng,
             kElementwise, kElementwise);
  }
  // A non-contiguous input (a transposed view) and an empty one.
  check_op("tanh of a transpose", [](const std::vector<Tensor>& t) { return unary(transpose(t[0], {2, 0, 1}), UnaryOp::Tanh); },
           {x}, rng, kElementwise, kElementwise);
  const Tensor empty = Tensor::zeros({0, 3}).to(Device::CUDA);
  REQUIRE(unary(empty, UnaryOp::Sigmoid).shape() == Shape{0, 3});
}

TEST_CASE("CUDA broadcast add/sub/mul/div equal the CPU, gradients reduced to each input", "[cuda][ops]") {
  if (!have_gpu("broadcast binary ops")) return;
  RandomStream rng(32, 1);
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3}, {3}},       {{3}, {2, 3}},          {{2, 1, 4}, {3, 1}},         {{3, 1}, {2, 1, 4}},
      {{}, {2, 3}},        {{2, 3}, {}},           {{1, 5, 1, 1}, {2, 5, 4, 3}}, {{2, 5, 4, 3}, {1, 5, 1, 1}},
      {{2, 5, 4, 3}, {2, 5, 4, 3}}, {{1}, {2, 3, 4, 5}}, {{4, 1, 3, 1, 2}, {1, 6, 1, 5, 1}}};
  for (const auto& [sa, sb] : shapes)
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div}) {
      const char* names[] = {"add", "sub", "mul", "div"};
      const std::string name = std::string(names[static_cast<int>(op)]) + " " + shape_text(sa) + " " + shape_text(sb);
      const Tensor a = random_tensor(sa, rng), b = random_tensor(sb, rng, 0.5f, 2.0f);  // b away from 0 for div
      check_op(name, [op](const std::vector<Tensor>& t) { return binary(t[0], t[1], op); }, {a, b}, rng,
               kElementwise, kSum);
    }
  // One input a constant: only the other gets a gradient.
  const Tensor a = random_tensor({2, 5, 4, 3}, rng).to(Device::CUDA), c = random_tensor({5, 1, 1}, rng);
  Tensor ag = a.clone();
  ag.set_requires_grad(true);
  const Tensor y = binary(ag, c.to(Device::CUDA), BinaryOp::Mul);
  run_backward(y, Tensor::full(y.shape(), 1.0f, Device::CUDA));
  Tensor ac = a.to(Device::CPU);
  ac.set_requires_grad(true);
  const Tensor yc = binary(ac, c, BinaryOp::Mul);
  run_backward(yc, Tensor::full(yc.shape(), 1.0f));
  require_match(ag.grad().to_vector(), ac.grad().to_vector(), kExact, "mul by a constant");
  REQUIRE_THROWS_WITH(binary(a, c, BinaryOp::Add), Catch::Contains("add: inputs on"));
}

TEST_CASE("CUDA softmax and log-softmax equal the CPU over every axis", "[cuda][ops]") {
  if (!have_gpu("softmax")) return;
  RandomStream rng(33, 1);
  const Tensor x = random_tensor({3, 4, 5}, rng, -3.0f, 3.0f);
  const Tensor big = random_tensor({2, 7}, rng, -1000.0f, 1000.0f);  // the max shift keeps exp finite
  for (bool log : {false, true}) {
    for (int64_t axis : {0, 1, 2, -1}) {
      const std::string name = std::string(log ? "log_softmax" : "softmax") + " axis " + std::to_string(axis);
      check_op(name, [=](const std::vector<Tensor>& t) { return softmax(t[0], axis, log); }, {x}, rng, kSum, kSum);
    }
    check_op(std::string(log ? "log_softmax" : "softmax") + " of large values",
             [=](const std::vector<Tensor>& t) { return softmax(t[0], 1, log); }, {big}, rng, kSum, kSum);
  }
}

TEST_CASE("CUDA concat, transpose and constant pad equal the CPU exactly", "[cuda][ops]") {
  if (!have_gpu("concat/transpose/pad")) return;
  RandomStream rng(34, 1);
  const Tensor p = random_tensor({2, 1, 3, 2}, rng), q = random_tensor({2, 4, 3, 2}, rng),
               r = random_tensor({2, 2, 3, 2}, rng);
  check_op("concat axis 1", [](const std::vector<Tensor>& t) { return concat(t, 1); }, {p, q, r}, rng, kExact,
           kExact);
  check_op("concat axis -1", [](const std::vector<Tensor>& t) { return concat(t, -1); },
           {random_tensor({3, 2}, rng), random_tensor({3, 5}, rng)}, rng, kExact, kExact);
  check_op("concat axis 0", [](const std::vector<Tensor>& t) { return concat(t, 0); },
           {random_tensor({1, 4}, rng), random_tensor({3, 4}, rng), random_tensor({2, 4}, rng)}, rng, kExact, kExact);

  const Tensor x3 = random_tensor({3, 4, 5}, rng), x4 = random_tensor({2, 3, 4, 5}, rng);
  for (const std::vector<int64_t>& perm : {std::vector<int64_t>{2, 0, 1}, {1, 0, 2}, {0, 2, 1}, {2, 1, 0}})
    check_op("transpose " + shape_text(perm), [=](const std::vector<Tensor>& t) { return transpose(t[0], perm); },
             {x3}, rng, kExact, kExact);
  for (const std::vector<int64_t>& perm : {std::vector<int64_t>{0, 2, 3, 1}, {3, 1, 0, 2}, {0, 1, 2, 3}})
    check_op("transpose " + shape_text(perm), [=](const std::vector<Tensor>& t) { return transpose(t[0], perm); },
             {x4}, rng, kExact, kExact);

  // Begins, ends, negative pads (crops) and a dimension cropped and padded at once.
  for (const std::vector<int64_t>& pads :
       {std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1}, {1, 0, 2, 0, 0, 3, 0, 1}, {0, 1, -1, 2, 1, 0, 2, -2},
        {-1, 0, -2, -1, 0, -1, -1, -2}})
    check_op("pad " + shape_text(pads), [=](const std::vector<Tensor>& t) { return pad_constant(t[0], pads, 0.25f); },
             {x4}, rng, kExact, kExact);
  check_op("pad rank 2", [](const std::vector<Tensor>& t) { return pad_constant(t[0], {2, 1, 0, 3}, -1.0f); },
           {random_tensor({3, 4}, rng)}, rng, kExact, kExact);
}

TEST_CASE("CUDA chain of the importer ops equals the CPU through run_backward", "[cuda][ops]") {
  if (!have_gpu("op chain")) return;
  RandomStream rng(35, 1);
  const Tensor x = random_tensor({2, 3, 4, 5}, rng), bias = random_tensor({1, 4, 1, 1}, rng), y = random_tensor({2, 4, 3, 5}, rng);
  check_op("chain", [](const std::vector<Tensor>& t) {
    const Tensor a = transpose(t[0], {0, 2, 1, 3});                       // (2, 4, 3, 5)
    const Tensor b = binary(unary(a, UnaryOp::HardSwish), t[1], BinaryOp::Add);
    const Tensor c = concat({b, unary(t[2], UnaryOp::Sigmoid)}, 2);     // (2, 4, 6, 5)
    const Tensor d = pad_constant(c, {0, 0, 1, -1, 0, 0, -1, 2}, 0.0f);  // (2, 4, 6, 6)
    return softmax(binary(d, t[1], BinaryOp::Mul), -1, true);
  }, {x, bias, y}, rng, kSum, kSum);
}
