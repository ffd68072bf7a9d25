// Dense CPU kernels (conv2d, linear, sgd_update): the double references against central finite
// differences, the fast float paths against the references, hand-computed tiny cases, and the
// SGD step against PyTorch's documented update rule worked out by hand.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "framework/parallel.h"
#include "framework/random.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/conv2d_winograd.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/sgd_update.h"
#include "tests/numeric_checks.h"

using namespace stuckat;
using namespace stuckat::test;
using namespace stuckat::cpu;

namespace {

template <typename T>
std::vector<T> random_vector(int64_t n, RandomStream& rng) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& e : v) e = static_cast<T>(rng.next_uniform(-1.0f, 1.0f));
  return v;
}

std::string describe(const Conv2dShape& s) {
  return "n=" + std::to_string(s.n) + " c_in=" + std::to_string(s.c_in) + " h=" + std::to_string(s.h) +
         " w=" + std::to_string(s.w) + " c_out=" + std::to_string(s.c_out) + " k=" + std::to_string(s.kh) + "x" +
         std::to_string(s.kw) + " stride=" + std::to_string(s.stride) + " pad=" + std::to_string(s.pad);
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

}  // namespace

// ---------------------------------------------------------------------------------------------
// (1) Reference backward (double) against finite differences of the reference forward.

TEST_CASE("conv2d reference backward matches finite differences", "[kernels]") {
  const std::vector<Conv2dShape> shapes = {
      {2, 2, 5, 6, 3, 3, 2, 1, 0},  // odd sizes, non-square kernel
      {1, 3, 7, 5, 2, 3, 3, 2, 1},  // stride 2, padding 1
      {2, 1, 6, 6, 2, 5, 5, 1, 2},  // LeNet conv1-like: c_in 1, 5x5, padding 2
      {1, 2, 6, 7, 3, 2, 3, 2, 2},  // stride 2, padding 2, even kernel height
  };
  for (const auto& s : shapes)
    for (bool with_bias : {true, false}) {
      INFO(describe(s) << " bias=" << with_bias);
      RandomStream rng(7, 1);
      auto x = random_vector<double>(s.n * s.c_in * s.h * s.w, rng);
      auto w = random_vector<double>(s.c_out * s.c_in * s.kh * s.kw, rng);
      auto b = random_vector<double>(s.c_out, rng);
      const int64_t y_size = s.n * s.c_out * s.h_out() * s.w_out();
      auto r = random_vector<double>(y_size, rng);  // the loss is sum(y * r), so dy = r
      std::vector<double> y(y_size);
      auto loss = [&] {
        conv2d_forward_ref<double>(x.data(), w.data(), with_bias ? b.data() : nullptr, y.data(), s);
        return dot(y, r);
      };
      std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
      conv2d_backward_ref<double>(x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(), s);
      // Tolerance: the finite differences are exact up to ~1e-12 (see finite_difference).
      require_close(dx, finite_difference(x, loss), 1e-8, 1e-8);
      require_close(dw, finite_difference(w, loss), 1e-8, 1e-8);
      if (with_bias) require_close(db, finite_difference(b, loss), 1e-8, 1e-8);
    }
}

TEST_CASE("linear reference backward matches finite differences", "[kernels]") {
  for (const LinearShape s : {LinearShape{3, 5, 4}, LinearShape{1, 7, 3}, LinearShape{4, 1, 2}})
    for (bool with_bias : {true, false}) {
      INFO("n=" << s.n << " in=" << s.in << " out=" << s.out << " bias=" << with_bias);
      RandomStream rng(11, 2);
      auto x = random_vector<double>(s.n * s.in, rng);
      auto w = random_vector<double>(s.out * s.in, rng);
      auto b = random_vector<double>(s.out, rng);
      auto r = random_vector<double>(s.n * s.out, rng);
      std::vector<double> y(r.size());
      auto loss = [&] {
        linear_forward_ref<double>(x.data(), w.data(), with_bias ? b.data() : nullptr, y.data(), s);
        return dot(y, r);
      };
      std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
      linear_backward_ref<double>(x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(), s);
      require_close(dx, finite_difference(x, loss), 1e-8, 1e-8);  // see the conv2d case
      require_close(dw, finite_difference(w, loss), 1e-8, 1e-8);
      if (with_bias) require_close(db, finite_difference(b, loss), 1e-8, 1e-8);
    }
}

// ---------------------------------------------------------------------------------------------
// (2) Fast float paths against the reference evaluated in double on the same float inputs.
//
// Tolerance: every output element is a float sum of `terms` products of values in [-1, 1].
// Float accumulation error grows like sqrt(terms) * eps * |term| in practice and at most about
// terms * eps * |term|; atol = 1e-6 * terms (~16 eps per term) covers that with margin, while a
// wrong, missing or doubled tap moves an element by O(0.1..1) -- far above atol for the sizes
// here (terms < 5000). rtol = 1e-5 covers the rounding of large results.

namespace {

void check_conv2d_fast(const Conv2dShape& s, uint64_t seed) {
  INFO(describe(s));
  RandomStream rng(seed, 3);
  const int64_t p = s.h_out() * s.w_out(), k = s.c_in * s.kh * s.kw;
  auto x = random_vector<float>(s.n * s.c_in * s.h * s.w, rng);
  auto w = random_vector<float>(s.c_out * k, rng);
  auto b = random_vector<float>(s.c_out, rng);
  auto dy = random_vector<float>(s.n * s.c_out * p, rng);
  const auto xd = to_double(x), wd = to_double(w), bd = to_double(b), dyd = to_double(dy);

  std::vector<double> y_ref_biased;
  for (bool with_bias : {true, false}) {
    INFO("bias=" << with_bias);
    std::vector<double> y_ref(dy.size());
    conv2d_forward_ref<double>(xd.data(), wd.data(), with_bias ? bd.data() : nullptr, y_ref.data(), s);
    std::vector<float> y(dy.size(), kNaN);
    conv2d_forward(x.data(), w.data(), with_bias ? b.data() : nullptr, y.data(), s);
    require_close(y, y_ref, 1e-6 * k, 1e-5);
    if (with_bias) y_ref_biased = y_ref;
  }

  std::vector<double> dx_ref(x.size()), dw_ref(w.size()), db_ref(b.size());
  conv2d_backward_ref<double>(xd.data(), wd.data(), dyd.data(), dx_ref.data(), dw_ref.data(), db_ref.data(), s);

  // conv2d_forward / conv2d_backward take the first kernel that covers the shape (Winograd, then
  // the direct families, then im2col); each private kernel is also checked on its own wherever
  // it covers the shape, so one that the dispatch passes over keeps its coverage.
  {
    std::vector<float> y(dy.size(), kNaN), dx(x.size(), kNaN), dw(w.size(), kNaN), db(b.size(), kNaN);
    for (int tile : {2, 4}) {
      INFO("Winograd forward, tile " << tile);
      std::fill(y.begin(), y.end(), kNaN);
      if (conv2d_forward_winograd(x.data(), w.data(), b.data(), y.data(), s, nullptr, tile))
        require_close(y, y_ref_biased, 1e-6 * k, 1e-5);
      std::fill(dx.begin(), dx.end(), kNaN);
      if (conv2d_backward_dx_winograd(w.data(), dy.data(), dx.data(), s, tile))
        require_close(dx, dx_ref, 1e-6 * s.c_out * s.kh * s.kw, 1e-5);
    }
    std::fill(y.begin(), y.end(), kNaN);
    if (conv2d_forward_direct(x.data(), w.data(), b.data(), y.data(), s)) {
      INFO("direct forward");
      require_close(y, y_ref_biased, 1e-6 * k, 1e-5);
    }
    std::fill(dx.begin(), dx.end(), kNaN);
    if (conv2d_backward_dx_direct(w.data(), dy.data(), dx.data(), s)) {
      INFO("direct dx");
      require_close(dx, dx_ref, 1e-6 * s.c_out * s.kh * s.kw, 1e-5);
    }
    if (conv2d_backward_weights_winograd(x.data(), dy.data(), dw.data(), db.data(), s)) {
      INFO("Winograd dw");
      require_close(dw, dw_ref, 1e-6 * s.n * p, 1e-5);
      require_close(db, db_ref, 1e-6 * s.n * p, 1e-5);
    }
    std::fill(dw.begin(), dw.end(), kNaN);
    std::fill(db.begin(), db.end(), kNaN);
    if (conv2d_backward_weights_direct(x.data(), dy.data(), dw.data(), db.data(), s)) {
      INFO("direct dw");
      require_close(dw, dw_ref, 1e-6 * s.n * p, 1e-5);
      require_close(db, db_ref, 1e-6 * s.n * p, 1e-5);
    }
  }
  // Prefilled with NaN: backward must overwrite every element, never accumulate.
  std::vector<float> dx(x.size(), kNaN), dw(w.size(), kNaN), db(b.size(), kNaN);
  conv2d_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), s);
  require_close(dx, dx_ref, 1e-6 * s.c_out * s.kh * s.kw, 1e-5);
  require_close(dw, dw_ref, 1e-6 * s.n * p, 1e-5);
  require_close(db, db_ref, 1e-6 * s.n * p, 1e-5);

  // dx and db are optional; dW must not depend on whether they were asked for.
  std::vector<float> dw_only(w.size(), kNaN);
  conv2d_backward(x.data(), w.data(), dy.data(), nullptr, dw_only.data(), nullptr, s);
  REQUIRE(dw_only == dw);
  // Same inputs, same thread count: bit-identical gradients.
  std::vector<float> dx2(x.size()), dw2(w.size()), db2(b.size());
  conv2d_backward(x.data(), w.data(), dy.data(), dx2.data(), dw2.data(), db2.data(), s);
  REQUIRE(dx2 == dx);
  REQUIRE(dw2 == dw);
  REQUIRE(db2 == db);
}

void check_linear_fast(const LinearShape& s, uint64_t seed) {
  INFO("n=" << s.n << " in=" << s.in << " out=" << s.out);
  RandomStream rng(seed, 4);
  auto x = random_vector<float>(s.n * s.in, rng);
  auto w = random_vector<float>(s.out * s.in, rng);
  auto b = random_vector<float>(s.out, rng);
  auto dy = random_vector<float>(s.n * s.out, rng);
  const auto xd = to_double(x), wd = to_double(w), bd = to_double(b), dyd = to_double(dy);

  for (bool with_bias : {true, false}) {
    INFO("bias=" << with_bias);
    std::vector<double> y_ref(dy.size());
    linear_forward_ref<double>(xd.data(), wd.data(), with_bias ? bd.data() : nullptr, y_ref.data(), s);
    std::vector<float> y(dy.size(), kNaN);
    linear_forward(x.data(), w.data(), with_bias ? b.data() : nullptr, y.data(), s);
    require_close(y, y_ref, 1e-6 * s.in, 1e-5);
  }
  std::vector<double> dx_ref(x.size()), dw_ref(w.size()), db_ref(b.size());
  linear_backward_ref<double>(xd.data(), wd.data(), dyd.data(), dx_ref.data(), dw_ref.data(), db_ref.data(), s);
  std::vector<float> dx(x.size(), kNaN), dw(w.size(), kNaN), db(b.size(), kNaN);
  linear_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), s);
  require_close(dx, dx_ref, 1e-6 * s.out, 1e-5);
  require_close(dw, dw_ref, 1e-6 * s.n, 1e-5);
  require_close(db, db_ref, 1e-6 * s.n, 1e-5);
  std::vector<float> dw_only(w.size(), kNaN);
  linear_backward(x.data(), w.data(), dy.data(), nullptr, dw_only.data(), nullptr, s);
  REQUIRE(dw_only == dw);
}

}  // namespace

TEST_CASE("conv2d fast path matches the reference", "[kernels]") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {  // 3 threads on a batch of 2 leaves a thread idle
    set_num_threads(threads);
    INFO("threads=" << threads);
    for (const Conv2dShape& s : {
             Conv2dShape{3, 1, 28, 28, 6, 5, 5, 1, 2},   // LeNet conv1
             Conv2dShape{3, 6, 14, 14, 16, 5, 5, 1, 0},  // LeNet conv2
             Conv2dShape{2, 4, 9, 7, 5, 1, 1, 1, 0},     // 1x1, no lowering
             Conv2dShape{2, 4, 9, 7, 5, 1, 1, 2, 0},     // 1x1 stride 2 (ResNet shortcut)
             Conv2dShape{1, 3, 8, 8, 4, 3, 3, 2, 1},     // batch 1, stride 2
             Conv2dShape{2, 2, 3, 3, 3, 5, 5, 1, 2},     // kernel larger than the image
         })
      check_conv2d_fast(s, 100);
    RandomStream pick(2024, 5);
    for (int trial = 0; trial < 25; ++trial) {
      Conv2dShape s{};
      s.n = 1 + pick.next_below(3);
      s.c_in = 1 + pick.next_below(4);
      s.c_out = 1 + pick.next_below(5);
      s.h = 1 + pick.next_below(12);
      s.w = 1 + pick.next_below(12);
      s.stride = 1 + pick.next_below(2);
      s.pad = pick.next_below(3);
      s.kh = 1 + pick.next_below(static_cast<uint32_t>(std::min<int64_t>(5, s.h + 2 * s.pad)));
      s.kw = 1 + pick.next_below(static_cast<uint32_t>(std::min<int64_t>(5, s.w + 2 * s.pad)));
      check_conv2d_fast(s, 200 + trial);
    }
  }
}

// The fast path picks among several kernels by shape (conv2d.cpp, conv2d_direct.cpp,
// conv2d_winograd.cpp); every branch gets at least one shape here, with the same checks as above
// (which also run each direct kernel on its own where the dispatch now prefers Winograd). Fields:
// {n, c_in, h, w, c_out, kh, kw, stride, pad}.
TEST_CASE("conv2d fast path matches the reference on every kernel branch", "[kernels]") {
  ThreadCountGuard guard;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    INFO("threads=" << threads);
    for (const Conv2dShape& s : {
             // (AVX2) stride 1 and at most 300 taps: wide rows, rows of 10 / 28 / 7 / 1 pixels, 20
             // channels = 5 groups of 4, spans that end inside a vector; (AVX-512) 16 output
             // channels per vector, rows of 10 / 28 (two 14-pixel blocks) / 7 / 1 pixels
             Conv2dShape{3, 6, 14, 14, 16, 5, 5, 1, 0},
             Conv2dShape{1, 3, 28, 28, 16, 3, 3, 1, 1},
             Conv2dShape{3, 3, 7, 7, 32, 3, 3, 1, 1},
             Conv2dShape{1, 1, 3, 1, 16, 3, 1, 1, 0},
             Conv2dShape{3, 6, 9, 9, 20, 3, 3, 1, 1},   // 20 = a full and a partial channel vector
             Conv2dShape{64, 6, 14, 14, 16, 5, 5, 1, 0},  // LeNet conv2 at the training batch
             // stride 1 past 300 taps: one vector of channels (6 <= 8 lanes) over 10-pixel rows,
             // and channel groups (on AVX2 the stride-1 shapes below with fewer taps go wide)
             Conv2dShape{2, 16, 10, 10, 6, 5, 5, 1, 2},
             Conv2dShape{4, 40, 6, 6, 48, 3, 3, 1, 1},
             Conv2dShape{2, 36, 9, 9, 130, 3, 3, 1, 1},
             // stride 2 always vectorises over channels, also for few of them
             Conv2dShape{3, 3, 28, 28, 32, 3, 3, 2, 1},
             Conv2dShape{1, 6, 10, 10, 20, 5, 5, 2, 2},
             Conv2dShape{3, 1, 28, 28, 6, 5, 5, 2, 2},
             // a 1x1 kernel that is not a plain GEMM (padding / stride), k 1 with pad 1 also
             // puts dx on the im2col path (pad > k-1) while dw stays direct
             Conv2dShape{3, 3, 7, 7, 16, 1, 1, 1, 1},
             Conv2dShape{3, 3, 7, 7, 6, 1, 1, 2, 0},
             // few output channels over wide rows: vectorised over the width
             Conv2dShape{64, 1, 28, 28, 6, 5, 5, 1, 2},  // LeNet conv1 at the training batch
             Conv2dShape{3, 1, 28, 28, 6, 5, 5, 1, 2},
             Conv2dShape{3, 3, 10, 40, 6, 3, 3, 1, 1},  // 40 pixels: a 32-pixel and an 8-pixel block
             Conv2dShape{1, 3, 10, 10, 12, 3, 3, 1, 0},  // 12 channels = two groups of 6
             Conv2dShape{3, 2, 6, 20, 9, 3, 5, 1, 1},    // groups of 5 and 4, kh != kw
             Conv2dShape{3, 2, 1, 16, 1, 1, 3, 1, 0},    // one output channel, one row
             Conv2dShape{2, 3, 1, 18, 2, 1, 3, 1, 0},    // a 16-pixel row: whole vectors to the end
             Conv2dShape{2, 2, 3, 20, 2, 3, 3, 1, 3},    // pad > kernel: output rows that read only padding
             // dW past the LeNet-sized kernel's widest tap count (kw 9 > 7): dW in tiles
             Conv2dShape{2, 2, 12, 12, 6, 3, 9, 1, 4},
             // stride 3: no direct forward kernel (im2col), dW in tiles
             Conv2dShape{2, 3, 11, 11, 16, 3, 3, 3, 1},
             // too large a share of the batch per thread for the dW kernel's L2 budget: dW in
             // tiles (one chunk of 8192 pixels, exactly)
             Conv2dShape{2, 16, 64, 64, 16, 3, 3, 1, 1},
             // dW in tiles over three chunks of pixels, 9 channel vectors (4 + 4 + 1, the last
             // partial), 63 taps (10 tiles of 6 and one of 3)
             Conv2dShape{4, 7, 24, 24, 130, 3, 3, 1, 1},
             // a plain 1x1 (a GEMM for forward and dx; dW in tiles)
             Conv2dShape{3, 20, 5, 5, 40, 1, 1, 1, 0},
             // more than 16 output channels: groups of 2-4 channel vectors over runs of pixels
             // that cross rows and images, taps in L1-sized slices (VGG / ResNet layers); with
             // c_in > 16, dx takes that path too
             Conv2dShape{5, 16, 4, 4, 80, 3, 3, 1, 1},   // 5 vectors: groups of 2 and 3; 144 taps in 2 slices for 3
             Conv2dShape{3, 40, 2, 2, 64, 3, 3, 1, 1},   // 2x2 planes, 360 taps in 4 slices
             Conv2dShape{7, 24, 6, 6, 33, 3, 3, 2, 1},   // stride 2, a partial last vector
             Conv2dShape{3, 24, 5, 5, 48, 3, 3, 1, 0},   // no padding: runs read the input in place
             Conv2dShape{20, 32, 4, 4, 64, 3, 3, 1, 1},  // several images a run, several runs a thread
             Conv2dShape{2, 20, 9, 9, 130, 3, 3, 1, 1},  // 9 vectors: groups of 4 and 5 -> 3, 3, 3; a partial one
             Conv2dShape{3, 18, 8, 8, 32, 1, 1, 2, 0},   // 1x1 stride 2 (ResNet shortcut) with few taps
             // a plain 1x1 over small planes: the batch's pixels side by side in panels of 32
             // columns, jobs of 8 panels x 64 channels (forward), partial ones in both; planes of
             // 9 and 49 pixels cross panel boundaries, and the last panel is partly empty
             Conv2dShape{70, 24, 2, 2, 130, 1, 1, 1, 0},
             Conv2dShape{300, 16, 1, 1, 40, 1, 1, 1, 0},
             Conv2dShape{5, 8, 7, 7, 12, 1, 1, 1, 0},
             Conv2dShape{37, 10, 3, 3, 70, 1, 1, 1, 0},
         })
      check_conv2d_fast(s, 400);
  }
}

// Winograd F(2x2, 3x3) and F(4x4, 3x3) (conv2d_winograd.cpp) take 3x3 stride-1 layers whose
// channel counts fill whole vectors: the shapes below cover output sizes that the tiles divide
// and that they do not (partly used tiles: 7x9, 4x3, 3x3 for both sizes), pads 0, 1 and 2 (the
// input gradient then pads 2, 1 and 0), 3x3 planes, and chunks of images (a 32x32 plane of 64
// channels: 3 images a chunk with 2x2 tiles, 4 with 4x4, so 5 images make two chunks, and dW sums
// over both). check_conv2d_fast checks it, through the dispatch and on its own, against the
// double reference; the results must not depend on the thread count.
TEST_CASE("conv2d Winograd path matches the reference and does not depend on the thread count", "[kernels]") {
  ThreadCountGuard guard;
  const std::vector<Conv2dShape> shapes = {
      Conv2dShape{3, 16, 8, 8, 32, 3, 3, 1, 1},  Conv2dShape{2, 16, 7, 9, 16, 3, 3, 1, 1},
      Conv2dShape{2, 32, 6, 5, 16, 3, 3, 1, 0},  Conv2dShape{2, 16, 5, 5, 32, 3, 3, 1, 2},
      Conv2dShape{4, 16, 3, 3, 16, 3, 3, 1, 1},  Conv2dShape{5, 64, 32, 32, 64, 3, 3, 1, 1},
  };
  for (const Conv2dShape& s : shapes) {
    INFO(describe(s));
    RandomStream rng(313, 3);
    const int64_t p = s.h_out() * s.w_out();
    auto x = random_vector<float>(s.n * s.c_in * s.h * s.w, rng);
    auto w = random_vector<float>(s.c_out * s.c_in * 9, rng);
    auto b = random_vector<float>(s.c_out, rng);
    auto dy = random_vector<float>(s.n * s.c_out * p, rng);
    set_num_threads(1);
    std::vector<float> y1(dy.size(), kNaN), dx1(x.size(), kNaN), dw1(w.size(), kNaN), db1(b.size(), kNaN);
    if (!conv2d_forward_winograd(x.data(), w.data(), b.data(), y1.data(), s, nullptr)) {
      WARN("this build has no Winograd path (no AVX2 / AVX-512, or no BLAS)");
      return;
    }
    REQUIRE(conv2d_backward_dx_winograd(w.data(), dy.data(), dx1.data(), s));
    REQUIRE(conv2d_backward_weights_winograd(x.data(), dy.data(), dw1.data(), db1.data(), s));
    check_conv2d_fast(s, 500);
    for (int threads : {2, 3}) {
      INFO("threads=" << threads);
      set_num_threads(threads);
      std::vector<float> y(dy.size(), kNaN), dx(x.size(), kNaN), dw(w.size(), kNaN), db(b.size(), kNaN);
      REQUIRE(conv2d_forward_winograd(x.data(), w.data(), b.data(), y.data(), s, nullptr));
      REQUIRE(conv2d_backward_dx_winograd(w.data(), dy.data(), dx.data(), s));
      REQUIRE(conv2d_backward_weights_winograd(x.data(), dy.data(), dw.data(), db.data(), s));
      REQUIRE(y == y1);
      REQUIRE(dx == dx1);
      REQUIRE(dw == dw1);
      REQUIRE(db == db1);
    }
  }
}

// The sweep's conv2d_add_into: an addend added image by image inside the forward gives, bit for
// bit, the addend plus the plain forward, on each kernel family (channel groups, channel- and
// width-vectorised, im2col, a plain GEMM, Winograd), with and without a bias, on 1 and 2 threads.
TEST_CASE("conv2d forward with an addend equals the addend plus the forward, bit for bit", "[kernels]") {
  ThreadCountGuard guard;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Conv2dShape& s : {Conv2dShape{5, 16, 4, 4, 80, 3, 3, 1, 1}, Conv2dShape{20, 32, 4, 4, 64, 3, 3, 1, 1},
                                 Conv2dShape{3, 6, 14, 14, 16, 5, 5, 1, 0}, Conv2dShape{4, 2, 14, 14, 16, 5, 5, 1, 0},
                                 Conv2dShape{3, 1, 28, 28, 6, 5, 5, 1, 2}, Conv2dShape{2, 3, 11, 11, 16, 3, 3, 3, 1},
                                 Conv2dShape{3, 20, 5, 5, 40, 1, 1, 1, 0}, Conv2dShape{70, 24, 2, 2, 130, 1, 1, 1, 0},
                                 Conv2dShape{37, 10, 3, 3, 70, 1, 1, 1, 0}, Conv2dShape{3, 16, 7, 9, 32, 3, 3, 1, 1}}) {
      INFO(describe(s) << " threads=" << threads);
      RandomStream rng(91, 4);
      const int64_t out = s.n * s.c_out * s.h_out() * s.w_out();
      auto x = random_vector<float>(s.n * s.c_in * s.h * s.w, rng);
      auto w = random_vector<float>(s.c_out * s.c_in * s.kh * s.kw, rng);
      auto b = random_vector<float>(s.c_out, rng);
      auto addend = random_vector<float>(out, rng);
      for (const float* bias : {static_cast<const float*>(nullptr), static_cast<const float*>(b.data())}) {
        std::vector<float> plain(static_cast<size_t>(out), kNaN), summed(static_cast<size_t>(out), kNaN);
        conv2d_forward(x.data(), w.data(), bias, plain.data(), s);
        conv2d_forward(x.data(), w.data(), bias, summed.data(), s, addend.data());
        int64_t differ = 0;
        for (size_t i = 0; i < plain.size(); ++i) differ += summed[i] != addend[i] + plain[i];
        CHECK(differ == 0);
      }
    }
  }
}

// Every output element is summed in a fixed order, whatever the thread count (and so however the
// batch is split into runs of images).
TEST_CASE("conv2d fast forward and dx do not depend on the thread count", "[kernels]") {
  ThreadCountGuard guard;
  for (const Conv2dShape& s : {Conv2dShape{9, 16, 4, 4, 80, 3, 3, 1, 1}, Conv2dShape{11, 24, 6, 6, 33, 3, 3, 2, 1},
                               Conv2dShape{6, 20, 8, 8, 48, 3, 3, 1, 1}, Conv2dShape{5, 6, 14, 14, 16, 5, 5, 1, 0},
                               Conv2dShape{70, 24, 2, 2, 130, 1, 1, 1, 0}}) {
    INFO(describe(s));
    RandomStream rng(77, 3);
    const int64_t p = s.h_out() * s.w_out();
    auto x = random_vector<float>(s.n * s.c_in * s.h * s.w, rng);
    auto w = random_vector<float>(s.c_out * s.c_in * s.kh * s.kw, rng);
    auto b = random_vector<float>(s.c_out, rng);
    auto dy = random_vector<float>(s.n * s.c_out * p, rng);
    std::vector<float> y1(dy.size()), dx1(x.size()), dw(w.size()), db(b.size());
    set_num_threads(1);
    conv2d_forward(x.data(), w.data(), b.data(), y1.data(), s);
    conv2d_backward(x.data(), w.data(), dy.data(), dx1.data(), dw.data(), db.data(), s);
    for (int threads : {2, 3}) {
      INFO("threads=" << threads);
      set_num_threads(threads);
      std::vector<float> y(dy.size(), kNaN), dx(x.size(), kNaN);
      conv2d_forward(x.data(), w.data(), b.data(), y.data(), s);
      conv2d_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), s);
      REQUIRE(y == y1);
      REQUIRE(dx == dx1);
    }
  }
}

// The tiled weight gradient (called directly: conv2d_backward takes it only where the LeNet-sized
// kernel declines, which depends on the thread count) against the reference, and the same bits for
// any thread count: each element is summed pixel by pixel in batch order.
TEST_CASE("conv2d tiled weight gradient matches the reference and does not depend on the thread count",
          "[kernels]") {
  ThreadCountGuard guard;
  for (const Conv2dShape& s : {Conv2dShape{4, 7, 24, 24, 130, 3, 3, 1, 1}, Conv2dShape{9, 16, 4, 4, 80, 3, 3, 1, 1},
                               Conv2dShape{11, 24, 6, 6, 33, 3, 3, 2, 1}, Conv2dShape{5, 6, 14, 14, 16, 5, 5, 1, 0},
                               Conv2dShape{3, 3, 11, 11, 20, 3, 3, 3, 1}, Conv2dShape{2, 5, 3, 3, 17, 1, 1, 1, 0}}) {
    INFO(describe(s));
    RandomStream rng(91, 3);
    const int64_t p = s.h_out() * s.w_out();
    auto x = random_vector<float>(s.n * s.c_in * s.h * s.w, rng);
    auto dy = random_vector<float>(s.n * s.c_out * p, rng);
    std::vector<double> dx_ref(x.size()), dw_ref(static_cast<size_t>(s.c_out * s.c_in * s.kh * s.kw)),
        db_ref(static_cast<size_t>(s.c_out));
    const std::vector<double> w_zero(dw_ref.size(), 0.0);
    conv2d_backward_ref<double>(to_double(x).data(), w_zero.data(), to_double(dy).data(), dx_ref.data(), dw_ref.data(),
                                db_ref.data(), s);
    std::vector<float> dw1(dw_ref.size(), kNaN), db1(db_ref.size(), kNaN);
    set_num_threads(1);
    if (!conv2d_backward_weights_tiled(x.data(), dy.data(), dw1.data(), db1.data(), s)) {
      SUCCEED("built without AVX-512 or AVX2: the tiled kernel is not built");
      continue;
    }
    require_close(dw1, dw_ref, 1e-6 * s.n * p, 1e-5);
    require_close(db1, db_ref, 1e-6 * s.n * p, 1e-5);
    for (int threads : {2, 3}) {
      INFO("threads=" << threads);
      set_num_threads(threads);
      std::vector<float> dw(dw1.size(), kNaN), db(db1.size(), kNaN), dw_only(dw1.size(), kNaN);
      REQUIRE(conv2d_backward_weights_tiled(x.data(), dy.data(), dw.data(), db.data(), s));
      REQUIRE(conv2d_backward_weights_tiled(x.data(), dy.data(), dw_only.data(), nullptr, s));
      REQUIRE(dw == dw1);
      REQUIRE(db == db1);
      REQUIRE(dw_only == dw1);
    }
  }
}

TEST_CASE("linear fast path matches the reference", "[kernels]") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    INFO("threads=" << threads);
    // LeNet fc1..fc3 at batch 64, then batch 1 and odd shapes that take the other thread split.
    for (const LinearShape& s : {LinearShape{64, 400, 120}, LinearShape{64, 120, 84}, LinearShape{64, 84, 10},
                                 LinearShape{1, 37, 11}, LinearShape{5, 3, 9}, LinearShape{2, 1, 1},
                                 LinearShape{7, 13, 1}})
      check_linear_fast(s, 300);
  }
}

// ---------------------------------------------------------------------------------------------
// (3) Tiny cases worked out by hand, checked on both the reference and the fast path.

TEST_CASE("conv2d tiny case by hand", "[kernels]") {
  // x = [1 2 3; 4 5 6; 7 8 9], w = [1 2; 3 4], b = 0.5.
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w = {1, 2, 3, 4}, b = {0.5f};
  using Fn = void (*)(const float*, const float*, const float*, float*, const Conv2dShape&);
  using BackFn = void (*)(const float*, const float*, const float*, float*, float*, float*, const Conv2dShape&);
  const std::vector<std::pair<Fn, BackFn>> impls = {{conv2d_forward_ref<float>, conv2d_backward_ref<float>},
                                                    {conv2d_forward, conv2d_backward}};
  for (const auto& [forward, backward] : impls) {
    // Stride 1, no padding: y00 = 1*1 + 2*2 + 4*3 + 5*4 = 37, y01 = 2+6+15+24 = 47,
    // y10 = 4+10+21+32 = 67, y11 = 5+12+24+36 = 77, each + 0.5.
    const Conv2dShape s{1, 1, 3, 3, 1, 2, 2, 1, 0};
    std::vector<float> y(4);
    forward(x.data(), w.data(), b.data(), y.data(), s);
    REQUIRE(y == std::vector<float>{37.5f, 47.5f, 67.5f, 77.5f});

    // dy = 1 everywhere: dw[ky][kx] = sum of the 2x2 input windows shifted by (ky, kx);
    // dx[i] = sum of the kernel taps that read pixel i; db = number of outputs.
    const std::vector<float> ones(4, 1.0f);
    std::vector<float> dx(9), dw(4), db(1);
    backward(x.data(), w.data(), ones.data(), dx.data(), dw.data(), db.data(), s);
    REQUIRE(dw == std::vector<float>{1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9});
    REQUIRE(dx == std::vector<float>{1, 1 + 2, 2, 1 + 3, 1 + 2 + 3 + 4, 2 + 4, 3, 3 + 4, 4});
    REQUIRE(db == std::vector<float>{4});

    // Stride 2, padding 1, no bias: output (oy, ox) reads input rows 2*oy-1.. and cols 2*ox-1..
    // y00 = x00*w11 = 4; y01 = x01*w10 + x02*w11 = 6+12; y10 = x10*w01 + x20*w11 = 8+28;
    // y11 = x11*w00 + x12*w01 + x21*w10 + x22*w11 = 5+12+24+36.
    const Conv2dShape s2{1, 1, 3, 3, 1, 2, 2, 2, 1};
    forward(x.data(), w.data(), nullptr, y.data(), s2);
    REQUIRE(y == std::vector<float>{4, 18, 36, 77});
    // Backward with dy = 1: each input pixel is read by exactly one output here, by tap
    // (ky, kx) = ((iy+1) % 2, (ix+1) % 2), so dx = [w11 w10 w11; w01 w00 w01; w11 w10 w11].
    backward(x.data(), w.data(), ones.data(), dx.data(), dw.data(), db.data(), s2);
    REQUIRE(dx == std::vector<float>{4, 3, 4, 2, 1, 2, 4, 3, 4});
    // dw00 = x11 = 5; dw01 = x10 + x12 = 10; dw10 = x01 + x21 = 10; dw11 = x00+x02+x20+x22 = 20.
    REQUIRE(dw == std::vector<float>{5, 10, 10, 20});
  }
}

TEST_CASE("linear tiny case by hand", "[kernels]") {
  // x = [1 2 3; 4 5 6], W = [1 0 -1; 2 1 0], b = [0.5, -1].
  const std::vector<float> x = {1, 2, 3, 4, 5, 6}, w = {1, 0, -1, 2, 1, 0}, b = {0.5f, -1.0f};
  const LinearShape s{2, 3, 2};
  using Fn = void (*)(const float*, const float*, const float*, float*, const LinearShape&);
  using BackFn = void (*)(const float*, const float*, const float*, float*, float*, float*, const LinearShape&);
  const std::vector<std::pair<Fn, BackFn>> impls = {{linear_forward_ref<float>, linear_backward_ref<float>},
                                                    {linear_forward, linear_backward}};
  for (const auto& [forward, backward] : impls) {
    std::vector<float> y(4);
    forward(x.data(), w.data(), b.data(), y.data(), s);
    // y00 = 1 - 3 + 0.5, y01 = 2 + 2 - 1, y10 = 4 - 6 + 0.5, y11 = 8 + 5 - 1.
    REQUIRE(y == std::vector<float>{-1.5f, 3.0f, -1.5f, 12.0f});
    // dy = [1 0; 0 2]: dx = dy W = [W row 0; 2 * W row 1], dW = dy^T x = [x row 0; 2 * x row 1].
    const std::vector<float> dy = {1, 0, 0, 2};
    std::vector<float> dx(6), dw(6), db(2);
    backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), s);
    REQUIRE(dx == std::vector<float>{1, 0, -1, 4, 2, 0});
    REQUIRE(dw == std::vector<float>{1, 2, 3, 8, 10, 12});
    REQUIRE(db == std::vector<float>{1, 2});
  }
}

// ---------------------------------------------------------------------------------------------
// (4) SGD: three steps of a one-element parameter, p0 = 1, lr = 0.1, gradients 0.5, -1, 2,
// worked out by hand from PyTorch's rule (sgd_update.h). Floats carry ~1e-7 relative rounding,
// so the hand values are matched to 1e-6.

namespace {

void check_sgd_sequence(const SgdConfig& c, const std::vector<float>& expected_p) {
  using Fn = void (*)(float*, const float*, float*, int64_t, const SgdConfig&, bool);
  for (Fn step : {static_cast<Fn>(sgd_update_ref), static_cast<Fn>(sgd_update)}) {
    float p = 1.0f, buf = kNaN;  // the first step must not read the momentum buffer
    const float grads[3] = {0.5f, -1.0f, 2.0f};
    for (int i = 0; i < 3; ++i) {
      step(&p, &grads[i], &buf, 1, c, i == 0);
      INFO("step " << i + 1);
      REQUIRE(p == Approx(expected_p[i]).margin(1e-6));
    }
  }
}

}  // namespace

TEST_CASE("sgd_update follows PyTorch's rule, by hand", "[kernels]") {
  SECTION("plain SGD") {  // p -= 0.1 g
    check_sgd_sequence({0.1f, 0.0f, 0.0f, 0.0f, false}, {0.95f, 1.05f, 0.85f});
  }
  SECTION("momentum 0.9") {  // buf = 0.5, -0.55, 1.505
    check_sgd_sequence({0.1f, 0.9f, 0.0f, 0.0f, false}, {0.95f, 1.005f, 0.8545f});
  }
  SECTION("momentum 0.9, dampening 0.5") {  // first buf undamped: 0.5, then 0.45-0.5 = -0.05, -0.045+1
    check_sgd_sequence({0.1f, 0.9f, 0.5f, 0.0f, false}, {0.95f, 0.955f, 0.8595f});
  }
  SECTION("nesterov momentum 0.9") {  // g + 0.9 buf = 0.95, -1.495, 3.3545
    check_sgd_sequence({0.1f, 0.9f, 0.0f, 0.0f, true}, {0.905f, 1.0545f, 0.71905f});
  }
  SECTION("weight decay 0.1") {  // g + 0.1 p = 0.6, -0.906, 2.10306
    check_sgd_sequence({0.1f, 0.0f, 0.0f, 0.1f, false}, {0.94f, 1.0306f, 0.820294f});
  }
  SECTION("weight decay 0.1 with momentum 0.9") {  // buf = 0.6, -0.366, 1.76826
    check_sgd_sequence({0.1f, 0.9f, 0.0f, 0.1f, false}, {0.94f, 0.9766f, 0.799774f});
  }
}

TEST_CASE("sgd_update fast path is bit-exact with the reference", "[kernels]") {
  ThreadCountGuard guard;
  set_num_threads(2);
  const int64_t n = 100003;  // above the threading threshold, with a ragged vector tail
  const std::vector<SgdConfig> configs = {
      {0.1f, 0.0f, 0.0f, 0.0f, false}, {0.05f, 0.9f, 0.0f, 0.0f, false}, {0.05f, 0.9f, 0.5f, 0.0f, false},
      {0.05f, 0.9f, 0.0f, 0.0f, true}, {0.1f, 0.0f, 0.0f, 5e-4f, false}, {0.05f, 0.9f, 0.1f, 5e-4f, true}};
  for (const auto& c : configs) {
    INFO("lr=" << c.lr << " momentum=" << c.momentum << " dampening=" << c.dampening
               << " wd=" << c.weight_decay << " nesterov=" << c.nesterov);
    RandomStream rng(42, 6);
    auto p_ref = random_vector<float>(n, rng);
    auto p_fast = p_ref;
    std::vector<float> buf_ref(n, kNaN), buf_fast(n, kNaN);
    for (int step = 0; step < 3; ++step) {
      const auto grad = random_vector<float>(n, rng);
      sgd_update_ref(p_ref.data(), grad.data(), buf_ref.data(), n, c, step == 0);
      sgd_update(p_fast.data(), grad.data(), buf_fast.data(), n, c, step == 0);
      REQUIRE(p_fast == p_ref);
      if (c.momentum != 0.0f) REQUIRE(buf_fast == buf_ref);
    }
  }
}
