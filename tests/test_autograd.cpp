// Autograd: graph walking (fan-out, residual adds, no-grad, accumulation) and every op's
// gradient through the graph against the op's reference backward kernel.
#include <catch2/catch.hpp>
#include <cmath>

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/random.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/pool2d.h"

using namespace stuckat;

namespace {
Tensor random_tensor(const Shape& s, uint64_t stream, bool grad = false) {
  Tensor t = Tensor::empty(s);
  RandomStream r(42, stream);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = r.next_uniform(-1, 1);
  if (grad) t.set_requires_grad(true);
  return t;
}

// |a-b| <= atol + rtol*|ref|: the graph calls the fast float kernels, the reference runs the
// same formula in double; float accumulation over at most a few hundred terms stays well
// inside 1e-4 relative.
void require_close(const Tensor& got, const std::vector<double>& ref, double atol = 1e-5, double rtol = 1e-4) {
  std::vector<float> g = got.to_vector();
  REQUIRE(g.size() == ref.size());
  for (size_t i = 0; i < g.size(); ++i) {
    INFO("element " << i << ": " << g[i] << " vs " << ref[i]);
    REQUIRE(std::abs(g[i] - ref[i]) <= atol + rtol * std::abs(ref[i]));
  }
}

std::vector<double> to_double(const Tensor& t) {
  std::vector<float> v = t.to_vector();
  return std::vector<double>(v.begin(), v.end());
}
}  // namespace

TEST_CASE("gradients accumulate over fan-out and residual adds", "[autograd]") {
  // y = relu(x) + x ; loss = sum(y * 1) via backward seed of ones; dy/dx = (x > 0) + 1.
  Tensor x = Tensor::from_vector(std::vector<float>{-2, -0.5f, 0.5f, 3}, {4});
  x.set_requires_grad(true);
  Tensor y = add(relu(x), x);
  run_backward(y, Tensor::full({4}, 1.0f));
  REQUIRE(x.grad().to_vector() == std::vector<float>{1, 1, 2, 2});
  // A second backward accumulates into .grad.
  Tensor y2 = add(x, x);
  run_backward(y2, Tensor::full({4}, 1.0f));
  REQUIRE(x.grad().to_vector() == std::vector<float>{3, 3, 4, 4});
}

TEST_CASE("no-grad mode builds no graph; leaves without requires_grad get no gradient", "[autograd]") {
  Tensor x = random_tensor({2, 3}, 1, true);
  Tensor w = random_tensor({4, 3}, 2, false);
  {
    NoGradGuard ng;
    Tensor y = linear(x, w, Tensor());
    REQUIRE_FALSE(y.requires_grad());
    REQUIRE(y.grad_fn() == nullptr);
  }
  Tensor y = linear(x, w, Tensor());
  REQUIRE(y.requires_grad());
  run_backward(y, Tensor::full({2, 4}, 1.0f));
  REQUIRE(x.grad().defined());
  REQUIRE_FALSE(w.grad().defined());
  REQUIRE_THROWS_AS(run_backward(w.detach(), Tensor::full({4, 3}, 1.0f)), Error);
}

TEST_CASE("conv2d and linear gradients through the graph match the reference", "[autograd]") {
  cpu::Conv2dShape s{2, 3, 7, 6, 4, 3, 3, 2, 1};
  Tensor x = random_tensor({2, 3, 7, 6}, 3, true), w = random_tensor({4, 3, 3, 3}, 4, true),
         b = random_tensor({4}, 5, true);
  Tensor y = conv2d(x, w, b, 2, 1);
  REQUIRE(y.shape() == Shape{2, 4, s.h_out(), s.w_out()});
  Tensor dy = random_tensor(y.shape(), 6);
  run_backward(y, dy);
  auto xd = to_double(x), wd = to_double(w), bd = to_double(b), dyd = to_double(dy);
  std::vector<double> yr(y.numel()), dx(x.numel()), dw(w.numel()), db(4);
  cpu::conv2d_forward_ref(xd.data(), wd.data(), bd.data(), yr.data(), s);
  cpu::conv2d_backward_ref(xd.data(), wd.data(), dyd.data(), dx.data(), dw.data(), db.data(), s);
  require_close(y, yr);
  require_close(x.grad(), dx);
  require_close(w.grad(), dw);
  require_close(b.grad(), db);

  Tensor a = random_tensor({5, 7}, 7, true), lw = random_tensor({3, 7}, 8, true), lb = random_tensor({3}, 9, true);
  Tensor ly = linear(a, lw, lb);
  Tensor ldy = random_tensor({5, 3}, 10);
  run_backward(ly, ldy);
  auto ad = to_double(a), lwd = to_double(lw), lbd = to_double(lb), ldyd = to_double(ldy);
  std::vector<double> lyr(15), da(35), dlw(21), dlb(3);
  cpu::LinearShape ls{5, 7, 3};
  cpu::linear_forward_ref(ad.data(), lwd.data(), lbd.data(), lyr.data(), ls);
  cpu::linear_backward_ref(ad.data(), lwd.data(), ldyd.data(), da.data(), dlw.data(), dlb.data(), ls);
  require_close(ly, lyr);
  require_close(a.grad(), da);
  require_close(lw.grad(), dlw);
  require_close(lb.grad(), dlb);
}

TEST_CASE("pooling, batch norm and cross-entropy gradients through the graph match the reference", "[autograd]") {
  Tensor x = random_tensor({2, 3, 6, 5}, 11, true);
  Tensor y = max_pool2d(x, 2, 2);
  Tensor dy = random_tensor(y.shape(), 12);
  run_backward(y, dy);
  cpu::Pool2dShape ps{2, 3, 6, 5, 2, 2};
  auto xd = to_double(x), dyd = to_double(dy);
  std::vector<double> yr(y.numel()), dx(x.numel());
  std::vector<int32_t> am(y.numel());
  cpu::max_pool2d_forward_ref(xd.data(), yr.data(), am.data(), ps);
  cpu::max_pool2d_backward_ref(dyd.data(), am.data(), dx.data(), ps);
  require_close(y, yr);
  require_close(x.grad(), dx);

  Tensor x2 = random_tensor({2, 3, 5, 7}, 13, true);
  Tensor y2 = adaptive_avg_pool2d(x2, 2, 3);
  Tensor dy2 = random_tensor(y2.shape(), 14);
  run_backward(y2, dy2);
  cpu::AdaptivePool2dShape as{2, 3, 5, 7, 2, 3};
  auto x2d = to_double(x2), dy2d = to_double(dy2);
  std::vector<double> y2r(y2.numel()), dx2(x2.numel());
  cpu::adaptive_avg_pool2d_forward_ref(x2d.data(), y2r.data(), as);
  cpu::adaptive_avg_pool2d_backward_ref(dy2d.data(), dx2.data(), as);
  require_close(y2, y2r);
  require_close(x2.grad(), dx2);

  Tensor xb = random_tensor({4, 3, 2, 2}, 15, true), g = random_tensor({3}, 16, true), be = random_tensor({3}, 17, true);
  Tensor rm = Tensor::zeros({3}), rv = Tensor::full({3}, 1.0f);
  Tensor yb = batch_norm(xb, g, be, rm, rv, true, 0.1f, 1e-5f);
  Tensor dyb = random_tensor(yb.shape(), 18);
  run_backward(yb, dyb);
  cpu::BatchNormShape bs{4, 3, 4};
  auto xbd = to_double(xb), gd = to_double(g), bed = to_double(be), dybd = to_double(dyb);
  std::vector<double> ybr(xb.numel()), sm(3), si(3), rmr(3, 0.0), rvr(3, 1.0), dxb(xb.numel()), dg(3), dbe(3);
  cpu::batch_norm_forward_train_ref(xbd.data(), gd.data(), bed.data(), ybr.data(), sm.data(), si.data(), rmr.data(),
                                    rvr.data(), 0.1, 1e-5, bs);
  cpu::batch_norm_backward_ref(xbd.data(), gd.data(), sm.data(), si.data(), dybd.data(), dxb.data(), dg.data(),
                               dbe.data(), bs);
  require_close(yb, ybr);
  require_close(rm, rmr);
  require_close(rv, rvr);
  require_close(xb.grad(), dxb, 1e-4, 1e-3);  // normalisation divides by a batch std: looser
  require_close(g.grad(), dg);
  require_close(be.grad(), dbe);

  Tensor logits = random_tensor({6, 4}, 19, true);
  Tensor labels = Tensor::from_vector(std::vector<int32_t>{0, 3, 1, 2, 3, 0}, {6});
  Tensor loss = cross_entropy(logits, labels);
  loss.backward();
  auto ld = to_double(logits);
  std::vector<double> probs(24), dl(24);
  std::vector<int32_t> lab = {0, 3, 1, 2, 3, 0};
  double lr = cpu::cross_entropy_forward_ref(ld.data(), lab.data(), probs.data(), 6, 4);
  cpu::cross_entropy_backward_ref(probs.data(), lab.data(), 1.0, dl.data(), 6, 4);
  REQUIRE(std::abs(loss.item() - lr) < 1e-5);
  require_close(logits.grad(), dl);
}

TEST_CASE("reshape and flatten pass gradients back in the input's shape", "[autograd]") {
  Tensor x = random_tensor({2, 3, 2, 2}, 20, true);
  Tensor f = flatten(x, 1);
  REQUIRE(f.shape() == Shape{2, 12});
  Tensor dy = random_tensor({2, 12}, 21);
  run_backward(f, dy);
  REQUIRE(x.grad().shape() == x.shape());
  REQUIRE(x.grad().to_vector() == dy.to_vector());
}

TEST_CASE("relu after max-pool equals max-pool after relu, values and gradients", "[autograd]") {
  // LeNet-5 applies ReLU after the pool to touch fewer values; this is the identity it relies on.
  Tensor x1 = random_tensor({3, 4, 8, 6}, 22, true);
  Tensor x2 = x1.detach().clone();
  x2.set_requires_grad(true);
  Tensor a = relu(max_pool2d(x1, 2, 2)), b = max_pool2d(relu(x2), 2, 2);
  REQUIRE(a.to_vector() == b.to_vector());
  Tensor dy = random_tensor(a.shape(), 23);
  run_backward(a, dy);
  run_backward(b, dy);
  REQUIRE(x1.grad().to_vector() == x2.grad().to_vector());
}
