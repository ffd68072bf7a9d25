// [cuda] The general conv and pooling ops (framework/ops/conv_general.h) and matmul / gemm
// (framework/ops/tensor_ops.h) on the GPU against the same ops on the CPU, forward and every
// input gradient through run_backward. The CPU ops are themselves checked against their
// references and finite differences in test_ops_conv_general.cpp and test_ops_tensor.cpp.
// They SKIP (warn and return) when built without CUDA or when no GPU is present.
//
// Tolerance: |got - ref| <= 1e-5 * (|ref| + RMS(ref)) per element (1e-5 relative, to the element
// or, for entries that cancel to near zero, to the tensor's typical size: the GPU kernels sum in
// another order than the CPU's GEMMs); equal values, infinities included, always match, and NaNs
// must sit in the same places.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "base/device.h"
#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/conv_general.h"
#include "framework/ops/tensor_ops.h"
#include "framework/random.h"
#include "framework/tensor.h"
#include "tests/gpu_available.h"
#include "tests/random_tensor.h"

using namespace stuckat;

namespace {

constexpr double kRelative = 1e-5;

void require_match(const std::vector<float>& got, const std::vector<float>& ref, const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == ref.size());
  double sq = 0;
  size_t finite = 0;
  for (float r : ref)
    if (std::isfinite(r)) {
      sq += static_cast<double>(r) * r;
      ++finite;
    }
  const double rms = finite ? std::sqrt(sq / static_cast<double>(finite)) : 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << " want " << ref[i]);
    REQUIRE(std::isnan(got[i]) == std::isnan(ref[i]));
    if (std::isnan(ref[i]) || got[i] == ref[i]) continue;
    REQUIRE(std::isfinite(ref[i]));
    const double d = std::abs(static_cast<double>(got[i]) - ref[i]);
    REQUIRE(d <= kRelative * (std::abs(static_cast<double>(ref[i])) + rms));
  }
}

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs op on copies of `inputs` placed on `device` that require gradients, then backward from the
// upstream gradient `dy`; returns the output followed by each input's gradient, on the host.
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
    out.push_back(x.grad().to_vector());
  }
  return out;
}

// The op on the GPU against the op on the CPU: output and every input gradient.
void check_op(const std::string& name, const Op& op, const std::vector<Tensor>& inputs, RandomStream& rng) {
  Shape y_shape;
  {
    NoGradGuard no_grad;
    y_shape = op(inputs).shape();
  }
  const Tensor dy = random_tensor(y_shape, rng);
  const auto ref = run_op(op, inputs, dy, Device::CPU);
  const auto got = run_op(op, inputs, dy, Device::CUDA);
  REQUIRE(got.size() == ref.size());
  require_match(got[0], ref[0], name + " forward");
  for (size_t i = 1; i < ref.size(); ++i) require_match(got[i], ref[i], name + " gradient of input " + std::to_string(i - 1));
}

ConvGeneralParams conv_params(int64_t stride_h, int64_t stride_w, int64_t pad_top, int64_t pad_left,
                              int64_t pad_bottom, int64_t pad_right, int64_t dilation_h, int64_t dilation_w,
                              int64_t groups) {
  ConvGeneralParams p;
  p.stride_h = stride_h;
  p.stride_w = stride_w;
  p.pad_top = pad_top;
  p.pad_left = pad_left;
  p.pad_bottom = pad_bottom;
  p.pad_right = pad_right;
  p.dilation_h = dilation_h;
  p.dilation_w = dilation_w;
  p.groups = groups;
  return p;
}

PoolGeneralParams pool_params(int64_t kh, int64_t kw, int64_t stride_h, int64_t stride_w, int64_t pad_top,
                              int64_t pad_left, int64_t pad_bottom, int64_t pad_right, int64_t dilation_h = 1,
                              int64_t dilation_w = 1, bool ceil_mode = false, bool count_include_pad = false) {
  PoolGeneralParams p;
  p.kernel_h = kh;
  p.kernel_w = kw;
  p.stride_h = stride_h;
  p.stride_w = stride_w;
  p.pad_top = pad_top;
  p.pad_left = pad_left;
  p.pad_bottom = pad_bottom;
  p.pad_right = pad_right;
  p.dilation_h = dilation_h;
  p.dilation_w = dilation_w;
  p.ceil_mode = ceil_mode;
  p.count_include_pad = count_include_pad;
  return p;
}

}  // namespace

TEST_CASE("CUDA conv2d_general equals the CPU op: depthwise, grouped, dilated, asymmetric pads", "[cuda][ops]") {
  if (!have_gpu("conv2d_general on CUDA")) return;
  RandomStream rng(71, 1);
  struct Case {
    const char* name;
    Shape x, w;
    ConvGeneralParams p;
    bool bias;
  };
  const std::vector<Case> cases = {
      {"depthwise 3x3 stride 1", {2, 4, 9, 8}, {4, 1, 3, 3}, conv_params(1, 1, 1, 1, 1, 1, 1, 1, 4), true},
      {"depthwise 3x3 stride 2", {2, 6, 11, 10}, {6, 1, 3, 3}, conv_params(2, 2, 1, 1, 1, 1, 1, 1, 6), false},
      {"depthwise x2 multiplier stride 2, 5x5", {1, 3, 12, 13}, {6, 1, 5, 5}, conv_params(2, 2, 2, 2, 2, 2, 1, 1, 3),
       true},
      {"groups 4", {2, 8, 7, 9}, {12, 2, 3, 3}, conv_params(1, 1, 1, 1, 1, 1, 1, 1, 4), true},
      {"groups 4, stride 2x1", {3, 8, 8, 6}, {8, 2, 3, 2}, conv_params(2, 1, 0, 1, 1, 0, 1, 1, 4), false},
      {"dilated 2x3", {2, 3, 11, 12}, {5, 3, 3, 3}, conv_params(1, 1, 2, 3, 2, 3, 2, 3, 1), true},
      {"dilated 2, stride 2, groups 2", {2, 4, 13, 13}, {4, 2, 3, 3}, conv_params(2, 2, 1, 0, 2, 1, 2, 2, 2), true},
      {"asymmetric pads (0, 1, 2, 1)", {2, 3, 8, 7}, {4, 3, 3, 3}, conv_params(1, 1, 0, 1, 2, 1, 1, 1, 1), true},
      {"asymmetric pads, stride 2x3, rectangular kernel", {2, 3, 10, 11}, {5, 3, 2, 4},
       conv_params(2, 3, 1, 0, 0, 2, 1, 1, 1), false},
  };
  for (const Case& c : cases) {
    const Tensor x = random_tensor(c.x, rng), w = random_tensor(c.w, rng);
    const ConvGeneralParams p = c.p;
    if (c.bias) {
      const Tensor b = random_tensor({c.w[0]}, rng);
      check_op(c.name, [p](const std::vector<Tensor>& t) { return conv2d_general(t[0], t[1], t[2], p); }, {x, w, b},
               rng);
    } else {
      check_op(c.name, [p](const std::vector<Tensor>& t) { return conv2d_general(t[0], t[1], Tensor(), p); }, {x, w},
               rng);
    }
  }
}

TEST_CASE("CUDA general max and average pooling equal the CPU ops: pads, ceil_mode, count_include_pad",
          "[cuda][ops]") {
  if (!have_gpu("general pooling on CUDA")) return;
  RandomStream rng(72, 1);
  struct Case {
    const char* name;
    PoolGeneralParams p;
  };
  const std::vector<Case> max_cases = {
      {"max 3x3 stride 2 pad 1", pool_params(3, 3, 2, 2, 1, 1, 1, 1)},
      {"max 3x2 stride 2x1 asymmetric pads", pool_params(3, 2, 2, 1, 0, 1, 2, 0)},
      {"max 3x3 stride 2 ceil_mode", pool_params(3, 3, 2, 2, 0, 0, 0, 0, 1, 1, true)},
      {"max 2x2 stride 3 pad 1 ceil_mode", pool_params(2, 2, 3, 3, 1, 1, 1, 1, 1, 1, true)},
      {"max 3x3 dilation 2x1 pad 2", pool_params(3, 3, 1, 2, 2, 1, 2, 1, 2, 1)},
      {"max 1x1 pad 1 (windows wholly in the padding)", pool_params(1, 1, 1, 1, 1, 1, 1, 1)},
  };
  const std::vector<Case> avg_cases = {
      {"avg 3x3 stride 2 pad 1", pool_params(3, 3, 2, 2, 1, 1, 1, 1)},
      {"avg 3x3 stride 2 pad 1 count_include_pad", pool_params(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false, true)},
      {"avg 3x2 stride 2x1 asymmetric pads", pool_params(3, 2, 2, 1, 0, 1, 2, 0)},
      {"avg 3x3 stride 2 ceil_mode", pool_params(3, 3, 2, 2, 0, 0, 0, 0, 1, 1, true)},
      {"avg 3x3 stride 2 pad 1 ceil_mode count_include_pad", pool_params(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, true)},
      {"avg 2x3 stride 3x2 pads (1, 0, 0, 2) ceil_mode count_include_pad",
       pool_params(2, 3, 3, 2, 1, 0, 0, 2, 1, 1, true, true)},
  };
  const Tensor x = random_tensor({2, 3, 10, 9}, rng);
  for (const Case& c : max_cases) {
    const PoolGeneralParams p = c.p;
    check_op(c.name, [p](const std::vector<Tensor>& t) { return max_pool2d_general(t[0], p); }, {x}, rng);
  }
  for (const Case& c : avg_cases) {
    const PoolGeneralParams p = c.p;
    check_op(c.name, [p](const std::vector<Tensor>& t) { return avg_pool2d_general(t[0], p); }, {x}, rng);
  }
  // Ties keep the first maximum and NaN wins (kernels/cpu/pool2d_window.h): equal on both devices.
  std::vector<float> v = x.to_vector();
  for (size_t i = 0; i < v.size(); i += 7) v[i] = 0.5f;  // many ties
  v[13] = std::numeric_limits<float>::quiet_NaN();
  v[101] = std::numeric_limits<float>::quiet_NaN();
  const Tensor ties = Tensor::from_vector(v, x.shape());
  for (const Case& c : max_cases) {
    const PoolGeneralParams p = c.p;
    check_op(std::string(c.name) + ", ties and NaN",
             [p](const std::vector<Tensor>& t) { return max_pool2d_general(t[0], p); }, {ties}, rng);
  }
}

TEST_CASE("CUDA matmul equals the CPU op: 2-D, 1-D operands, batched, broadcast batch", "[cuda][ops]") {
  if (!have_gpu("matmul on CUDA")) return;
  RandomStream rng(73, 1);
  struct Case {
    const char* name;
    Shape a, b;
  };
  const std::vector<Case> cases = {
      {"2-D", {5, 7}, {7, 3}},
      {"vector x matrix", {7}, {7, 4}},
      {"matrix x vector", {2, 5, 7}, {7}},
      {"batched", {2, 3, 4, 5}, {2, 3, 5, 6}},
      {"broadcast batch", {3, 1, 4, 5}, {2, 5, 6}},
      {"one matrix against a batch", {4, 5}, {3, 5, 2}},
  };
  for (const Case& c : cases) {
    const Tensor a = random_tensor(c.a, rng), b = random_tensor(c.b, rng);
    check_op(c.name, [](const std::vector<Tensor>& t) { return matmul(t[0], t[1]); }, {a, b}, rng);
  }
}

TEST_CASE("CUDA gemm equals the CPU op: transposes, alpha, beta, C broadcast", "[cuda][ops]") {
  if (!have_gpu("gemm on CUDA")) return;
  RandomStream rng(74, 1);
  const int64_t m = 5, k = 6, n = 4;
  struct Case {
    const char* name;
    bool trans_a, trans_b;
    float alpha, beta;
    Shape c;  // {0}: no C
  };
  const std::vector<Case> cases = {
      {"plain, C (m, n)", false, false, 0.5f, 2.0f, {m, n}},
      {"trans_a, C (n)", true, false, 1.5f, 1.0f, {n}},
      {"trans_b, C (m, 1)", false, true, 0.5f, -1.0f, {m, 1}},
      {"both transposed, C (1, n)", true, true, 2.0f, 0.25f, {1, n}},
      {"both transposed, scalar C", true, true, 1.0f, 3.0f, {}},
      {"trans_a, no C", true, false, 0.75f, 1.0f, {0}},
  };
  for (const Case& c : cases) {
    const Tensor a = random_tensor(c.trans_a ? Shape{k, m} : Shape{m, k}, rng);
    const Tensor b = random_tensor(c.trans_b ? Shape{n, k} : Shape{k, n}, rng);
    const float alpha = c.alpha, beta = c.beta;
    const bool ta = c.trans_a, tb = c.trans_b;
    if (c.c == Shape{0}) {
      check_op(c.name, [=](const std::vector<Tensor>& t) { return gemm(t[0], t[1], Tensor(), alpha, beta, ta, tb); },
               {a, b}, rng);
    } else {
      const Tensor cc = random_tensor(c.c, rng);
      check_op(c.name, [=](const std::vector<Tensor>& t) { return gemm(t[0], t[1], t[2], alpha, beta, ta, tb); },
               {a, b, cc}, rng);
    }
  }
}
