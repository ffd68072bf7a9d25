// Every op of the CUDA backend, forward and backward through the framework ops, against the same
// op on the CPU (whose kernels are themselves checked against the references and finite
// differences in test_kernels_*.cpp and test_autograd.cpp); the SGD step bit for bit (the
// 16-bit-word decode and the word-reading conv/linear kernels are in test_cuda_models.cpp).
// All [cuda]: they SKIP (warn and return) when built without CUDA or when no GPU is present.
//
// Float comparisons use two criteria (docs/DESIGN.md): NMSE = sum (a-b)^2 / sum b^2 <= 1e-7 over the
// tensor, and |a - b| <= atol + rtol * |b| per element, with tolerances chosen per op below.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "framework/autograd.h"
#include "base/device.h"
#include "framework/ops.h"
#include "framework/random.h"
#include "framework/tensor.h"
#include "tests/gpu_available.h"
#include "tests/random_tensor.h"
#include "kernels/cpu/sgd_update.h"
#ifdef STUCKAT_WITH_CUDA
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/sgd_update.h"
#endif

using namespace stuckat;

namespace {

// NMSE <= 1e-7 and |got - ref| <= atol + rtol * |ref| elementwise; NaNs must sit in the same places.
// atol_rms adds atol_rms * RMS(ref) to atol (see kReduction).
void require_match(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol,
                   const std::string& what, double atol_rms = 0.0) {
  INFO(what);
  REQUIRE(got.size() == ref.size());
  double sq = 0;
  size_t finite = 0;
  for (float r : ref)
    if (!std::isnan(r)) {
      sq += static_cast<double>(r) * r;
      ++finite;
    }
  atol += finite ? atol_rms * std::sqrt(sq / static_cast<double>(finite)) : 0.0;
  double err = 0, norm = 0;
  size_t worst = 0;
  double worst_excess = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    REQUIRE(std::isnan(got[i]) == std::isnan(ref[i]));
    if (std::isnan(ref[i])) continue;
    const double d = static_cast<double>(got[i]) - ref[i];
    err += d * d;
    norm += static_cast<double>(ref[i]) * ref[i];
    const double excess = std::abs(d) - (atol + rtol * std::abs(static_cast<double>(ref[i])));
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  INFO("worst element " << worst << ": got " << got[worst] << " want " << ref[worst]);
  REQUIRE(worst_excess <= 0.0);
  if (norm > 0) REQUIRE(err / norm <= 1e-7);
  else REQUIRE(err == 0.0);
}

[[maybe_unused]] void require_same_bits(const std::vector<float>& got, const std::vector<float>& ref,
                                        const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << " want " << ref[i]);
    REQUIRE(std::memcmp(&got[i], &ref[i], sizeof(float)) == 0);
  }
}

// Runs op on copies of `inputs` placed on `device` that require gradients, then backward from
// the upstream gradient `dy`; returns the output followed by each input's gradient, on the host.
std::vector<std::vector<float>> run_op(const std::function<Tensor(const std::vector<Tensor>&)>& op,
                                       const std::vector<Tensor>& inputs, const Tensor& dy, Device device) {
  std::vector<Tensor> xs;
  for (const Tensor& t : inputs) {
    Tensor c = t.clone().to(device);
    c.set_requires_grad(true);
    xs.push_back(c);
  }
  Tensor y = op(xs);
  std::vector<std::vector<float>> out{y.to_vector()};
  run_backward(y, dy.to(device));
  for (const Tensor& x : xs) out.push_back(x.grad().to_vector());
  return out;
}

struct Tolerance {
  double atol, rtol, atol_rms;
};

// The op on the GPU against the op on the CPU: output with `fwd`, every input gradient with `bwd`.
// y_shape: the output's shape; empty to find it by running op once without gradients (pass it
// for ops with side effects, such as batch norm's running statistics).
void check_op(const std::string& name, const std::function<Tensor(const std::vector<Tensor>&)>& op,
              const std::vector<Tensor>& inputs, RandomStream& rng, Tolerance fwd, Tolerance bwd,
              Shape y_shape = {}) {
  if (y_shape.empty()) {
    NoGradGuard no_grad;
    y_shape = op(inputs).shape();
  }
  const Tensor dy = random_tensor(y_shape, rng);
  const auto ref = run_op(op, inputs, dy, Device::CPU);
  const auto got = run_op(op, inputs, dy, Device::CUDA);
  require_match(got[0], ref[0], fwd.atol, fwd.rtol, name + " forward", fwd.atol_rms);
  for (size_t i = 1; i < ref.size(); ++i)
    require_match(got[i], ref[i], bwd.atol, bwd.rtol, name + " gradient of input " + std::to_string(i - 1),
                  bwd.atol_rms);
}

// Elementwise ops with no arithmetic of their own (select, compare, one IEEE add) give the same
// bits on both devices.
constexpr Tolerance kExact{0.0, 0.0, 0.0};
// One or a few fp32 operations per element, possibly in another order or with an FMA: a few ulp.
constexpr Tolerance kElementwise{1e-6, 1e-5, 0.0};
// GEMMs and reductions over up to ~1600 terms (LeNet conv1's weight gradient at batch 2):
// summation order differs (cuBLAS tiles, block sums vs. OpenBLAS/sequential). The rounding error
// of a sum grows like sqrt(terms) ulps of its partial sums, whose size is that of the tensor's
// typical entry rather than of an entry that cancels to near zero: sqrt(1600) * 6e-8 = 2.4e-6 of
// the RMS. Hence atol_rms 3e-5 (12x margin), rtol 1e-4 for the large entries, atol 1e-5.
constexpr Tolerance kReduction{1e-5, 1e-4, 3e-5};

}  // namespace

TEST_CASE("cuBLAS is opened on first use, with or without a GPU", "[cuda][cublas]") {
  // kernels/cuda/cublas_library.cuh: the binary does not link cuBLAS; creating the handle opens
  // it. Without a GPU that still happens, and cuBLAS's refusal comes back in its own words
  // (through the opened library's status string), not as a library that cannot be found.
#ifndef STUCKAT_WITH_CUDA
  WARN("built without CUDA: cuBLAS loading not checked");
#else
  if (cuda_available()) {
    REQUIRE_NOTHROW(cuda::gemm_init());
  } else {
    try {
      cuda::gemm_init();
      FAIL("creating a cuBLAS handle without a GPU should fail");
    } catch (const CudaError& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find("cublas.create(&created) failed: ") != std::string::npos);
      CHECK(what.find("cannot open cuBLAS") == std::string::npos);
      CHECK(what.size() > what.find("failed: ") + 9);  // cuBLAS's description follows
    }
  }
#endif
}

TEST_CASE("CUDA relu and add equal the CPU bit for bit", "[cuda][kernels]") {
  if (!have_gpu("relu/add")) return;
  RandomStream rng(1, 1);
  const Tensor x = random_tensor({3, 5, 7, 9}, rng), b = random_tensor({3, 5, 7, 9}, rng);
  check_op("relu", [](const std::vector<Tensor>& t) { return relu(t[0]); }, {x}, rng, kExact, kExact);
  check_op("add", [](const std::vector<Tensor>& t) { return add(t[0], t[1]); }, {x, b}, rng, kExact, kExact);
  // Gradient accumulation: a tensor used twice sums its two gradients with add_inplace.
  check_op("x + relu(x)", [](const std::vector<Tensor>& t) { return add(t[0], relu(t[0])); }, {x}, rng, kExact,
           kExact);
}

TEST_CASE("CUDA select_index, sub_inplace and add_into equal the CPU bit for bit", "[cuda][kernels]") {
  if (!have_gpu("select_index/sub_inplace/add_into")) return;
  RandomStream rng(4, 4);
  // Channels of a 4-D tensor (a few, unordered, one repeated: the list travels in the kernel's
  // arguments), rows of a 2-D one, and 300 channels (more than the kernel's inline list: they go
  // through device memory).
  const Tensor x = random_tensor({3, 7, 5, 6}, rng), rows = random_tensor({9, 4}, rng), wide = random_tensor({2, 310, 3}, rng);
  std::vector<int64_t> many;
  for (int64_t i = 0; i < 300; ++i) many.push_back((i * 37) % 310);
  struct Case {
    const Tensor* t;
    int64_t dim;
    std::vector<int64_t> index;
  };
  for (const Case& c : {Case{&x, 1, {6, 0, 3, 0}}, Case{&rows, 0, {8, 2, 5}}, Case{&wide, 1, many}}) {
    const std::vector<float> want = select_index(*c.t, c.dim, c.index).to_vector();
    const Tensor got = select_index(c.t->to(Device::CUDA), c.dim, c.index);
    CHECK(got.device() == Device::CUDA);
    CHECK(got.to_vector() == want);
  }
  const Tensor a = random_tensor({4, 3, 5}, rng), b = random_tensor({4, 3, 5}, rng);
  Tensor diff_cpu = a.clone(), diff_gpu = a.to(Device::CUDA);
  sub_inplace(diff_cpu, b);
  sub_inplace(diff_gpu, b.to(Device::CUDA));
  CHECK(diff_gpu.to_vector() == diff_cpu.to_vector());
  // add_into a row block of a larger tensor (the sweep writes each point's rows so).
  Tensor big = Tensor::zeros({12, 3, 5}, DType::F32, Device::CUDA);
  Tensor block = slice_rows(big, 4, 8);
  add_into(block, a.to(Device::CUDA), b.to(Device::CUDA));
  const std::vector<float> all = big.to_vector(), av = a.to_vector(), bv = b.to_vector();
  for (size_t i = 0; i < all.size(); ++i) {
    const size_t row = i / 15;
    const float want = row >= 4 && row < 8 ? av[i - 60] + bv[i - 60] : 0.0f;
    REQUIRE(all[i] == want);
  }
}

TEST_CASE("CUDA add_tiled_into equals the CPU bit for bit", "[cuda][kernels]") {
  if (!have_gpu("add_tiled_into")) return;
  RandomStream rng(5, 5);
  const Tensor tile = random_tensor({7, 3}, rng), b = random_tensor({5 * 7, 3}, rng);
  Tensor want = Tensor::empty({5 * 7, 3});
  add_tiled_into(want, tile, b);
  Tensor got = b.to(Device::CUDA);  // in place, as the sweep adds a pass's clean outputs
  add_tiled_into(got, tile.to(Device::CUDA), got);
  CHECK(got.to_vector() == want.to_vector());
  const std::vector<float> tv = tile.to_vector(), bv = b.to_vector(), wv = want.to_vector();
  for (size_t i = 0; i < wv.size(); ++i) REQUIRE(wv[i] == tv[i % 21] + bv[i]);
}

TEST_CASE("CUDA pooling equals the CPU", "[cuda][kernels]") {
  if (!have_gpu("pooling")) return;
  RandomStream rng(2, 2);
  const Tensor x = random_tensor({3, 4, 11, 9}, rng);  // odd sizes: floor mode drops a row/column
  for (int64_t k : {2, 3})
    for (int64_t stride : {1, 2}) {
      const std::string at = " k=" + std::to_string(k) + " stride=" + std::to_string(stride);
      // Max pooling selects values and sums gradients in the CPU's order: exact.
      check_op("max_pool2d" + at, [=](const std::vector<Tensor>& t) { return max_pool2d(t[0], k, stride); }, {x}, rng,
               kExact, kExact);
      check_op("avg_pool2d" + at, [=](const std::vector<Tensor>& t) { return avg_pool2d(t[0], k, stride); }, {x}, rng,
               kElementwise, kElementwise);
    }
  // Ties and NaN follow pool2d_window.h on both devices.
  std::vector<float> v(2 * 1 * 4 * 4, 0.5f);
  v[5] = std::nanf("");
  const Tensor ties = Tensor::from_vector(v, {2, 1, 4, 4});
  check_op("max_pool2d ties/NaN", [](const std::vector<Tensor>& t) { return max_pool2d(t[0], 2, 2); }, {ties}, rng,
           kExact, kExact);
  for (auto [oh, ow] : {std::pair<int64_t, int64_t>{1, 1}, {3, 4}, {5, 2}})
    check_op("adaptive_avg_pool2d " + std::to_string(oh) + "x" + std::to_string(ow),
             [=](const std::vector<Tensor>& t) { return adaptive_avg_pool2d(t[0], oh, ow); }, {x}, rng,
             kElementwise, kElementwise);
}

TEST_CASE("CUDA batch norm equals the CPU in training and eval mode", "[cuda][kernels]") {
  if (!have_gpu("batch_norm")) return;
  RandomStream rng(3, 3);
  for (const Shape& shape : {Shape{5, 6, 7, 9}, Shape{33, 10}}) {
    const int64_t c = shape[1];
    const Tensor x = random_tensor(shape, rng, -2.0f, 3.0f);  // nonzero mean: exercises the two-pass variance
    const Tensor gamma = random_tensor({c}, rng, 0.5f, 1.5f), beta = random_tensor({c}, rng);
    const Tensor rm0 = random_tensor({c}, rng), rv0 = random_tensor({c}, rng, 0.5f, 2.0f);
    Tensor rm_cpu = rm0.clone(), rv_cpu = rv0.clone();
    Tensor rm_gpu = rm0.to(Device::CUDA), rv_gpu = rv0.to(Device::CUDA);
    // Per-channel statistics are reductions over n*hw values, and the backward subtracts two such
    // sums from m*dy, which cancels: reduction tolerances. check_op runs the training pass once
    // per device, so each device's running statistics get one update.
    check_op("batch_norm train " + shape_str(shape), [&](const std::vector<Tensor>& t) {
      const bool cpu = t[0].device() == Device::CPU;
      return batch_norm(t[0], t[1], t[2], cpu ? rm_cpu : rm_gpu, cpu ? rv_cpu : rv_gpu, true, 0.1f, 1e-5f);
    }, {x, gamma, beta}, rng, kReduction, kReduction, shape);
    require_match(rm_gpu.to_vector(), rm_cpu.to_vector(), kReduction.atol, kReduction.rtol, "running_mean");
    require_match(rv_gpu.to_vector(), rv_cpu.to_vector(), kReduction.atol, kReduction.rtol, "running_var");
    NoGradGuard no_grad;
    const Tensor y_cpu = batch_norm(x, gamma, beta, rm_cpu, rv_cpu, false, 0.1f, 1e-5f);
    const Tensor y_gpu = batch_norm(x.to(Device::CUDA), gamma.to(Device::CUDA), beta.to(Device::CUDA), rm_gpu, rv_gpu,
                                    false, 0.1f, 1e-5f);
    // Eval: a few fp32 operations per element with the (already matched) running statistics.
    require_match(y_gpu.to_vector(), y_cpu.to_vector(), kReduction.atol, kReduction.rtol, "batch_norm eval");
  }
}

TEST_CASE("CUDA cross-entropy and accuracy equal the CPU", "[cuda][kernels]") {
  if (!have_gpu("cross_entropy")) return;
  RandomStream rng(4, 4);
  for (int64_t n : {1, 37, 300}) {
    const Tensor logits = random_tensor({n, 10}, rng, -8.0f, 8.0f);
    std::vector<int32_t> l(static_cast<size_t>(n));
    for (auto& e : l) e = static_cast<int32_t>(rng.next_uniform(0.0f, 9.999f));
    const Tensor labels = Tensor::from_vector(l, {n});
    const Tensor labels_gpu = labels.to(Device::CUDA);
    // Loss: exp/log (a few ulp each) and a mean over n rows; gradient: a few operations per logit.
    check_op("cross_entropy n=" + std::to_string(n), [&](const std::vector<Tensor>& t) {
      return cross_entropy(t[0], t[0].device() == Device::CPU ? labels : labels_gpu);
    }, {logits}, rng, kReduction, kElementwise);
    REQUIRE(count_correct(logits.to(Device::CUDA), labels_gpu) == count_correct(logits, labels));
  }
  // Ties: the first maximum wins on both devices.
  const Tensor tied = Tensor::from_vector(std::vector<float>{1, 3, 3, 0, 2, 2, 2, 2}, {2, 4});
  const Tensor tl = Tensor::from_vector(std::vector<int32_t>{2, 0}, {2});
  REQUIRE(count_correct(tied, tl) == 1);
  REQUIRE(count_correct(tied.to(Device::CUDA), tl.to(Device::CUDA)) == 1);
}

TEST_CASE("CUDA linear equals the CPU", "[cuda][kernels]") {
  if (!have_gpu("linear")) return;
  RandomStream rng(5, 5);
  for (auto [n, in, out] : {std::tuple<int64_t, int64_t, int64_t>{33, 70, 19}, {1, 400, 120}, {64, 84, 10}}) {
    const Tensor x = random_tensor({n, in}, rng), w = random_tensor({out, in}, rng), b = random_tensor({out}, rng);
    const std::string at = " (" + std::to_string(n) + ", " + std::to_string(in) + ") -> " + std::to_string(out);
    check_op("linear" + at, [](const std::vector<Tensor>& t) { return linear(t[0], t[1], t[2]); }, {x, w, b}, rng,
             kReduction, kReduction);
    check_op("linear no bias" + at, [](const std::vector<Tensor>& t) { return linear(t[0], t[1], Tensor()); }, {x, w},
             rng, kReduction, kReduction);
  }
}

// Forward runs a direct kernel for K = c_in*kh*kw <= 256 with M = n*h_out*w_out >= 65536 and
// im2col + GEMM otherwise (conv2d.cu): the cases cover both, and backward (always the column
// path) for each.
TEST_CASE("CUDA conv2d equals the CPU", "[cuda][kernels]") {
  if (!have_gpu("conv2d")) return;
  RandomStream rng(6, 6);
  struct Case {
    int64_t n, c_in, h, w, c_out, k, stride, pad;
  };
  for (const Case& c : {Case{3, 5, 11, 13, 7, 3, 2, 1},   // odd sizes, stride 2, padding
                        Case{2, 1, 28, 28, 6, 5, 1, 2},   // LeNet conv1
                        Case{2, 6, 14, 14, 16, 5, 1, 0},  // LeNet conv2
                        Case{3, 8, 9, 9, 4, 1, 2, 0},     // ResNet 1x1 downsample shortcut
                        Case{1, 3, 7, 6, 5, 3, 3, 2},     // stride 3 with padding wider than a tap
                        Case{2, 3, 9, 9, 19, 3, 1, 1},    // three channel tiles, the last partial
                        Case{2, 32, 6, 5, 9, 3, 1, 1},    // K = 288: forward through im2col + GEMM
                        Case{3, 40, 7, 7, 3, 3, 2, 1}}) {  // K = 360, stride 2, padding
    const Tensor x = random_tensor({c.n, c.c_in, c.h, c.w}, rng);
    const Tensor w = random_tensor({c.c_out, c.c_in, c.k, c.k}, rng), b = random_tensor({c.c_out}, rng);
    const std::string at = " x" + shape_str(x.shape()) + " w" + shape_str(w.shape()) + " stride " +
                           std::to_string(c.stride) + " pad " + std::to_string(c.pad);
    check_op("conv2d" + at,
             [&](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2], c.stride, c.pad); }, {x, w, b}, rng,
             kReduction, kReduction);
    check_op("conv2d no bias" + at,
             [&](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], Tensor(), c.stride, c.pad); }, {x, w},
             rng, kReduction, kReduction);
  }
  // The direct forward needs M >= 65536 positions: forward only here (backward is the column
  // path above, and weight gradients summed over 65536+ positions would need their own tolerance).
  // K <= 50 terms per output: the kReduction forward tolerance holds with room to spare.
  NoGradGuard no_grad;
  for (const Case& c : {Case{2, 3, 182, 181, 19, 3, 1, 1},  // M = 65884: stride-1 3x3 row kernel, three channel tiles
                        Case{3, 1, 150, 150, 6, 5, 1, 2},   // M = 67500: stride-1 5x5 row kernel (LeNet conv1)
                        Case{1, 2, 260, 260, 5, 2, 1, 0},   // M = 67081: kernel size read at run time
                        Case{16, 3, 130, 130, 9, 3, 2, 1}}) {  // M = 67600: stride 2, one output per thread, 3x3 compiled in
    const Tensor x = random_tensor({c.n, c.c_in, c.h, c.w}, rng);
    const Tensor w = random_tensor({c.c_out, c.c_in, c.k, c.k}, rng), b = random_tensor({c.c_out}, rng);
    const std::vector<float> ref = conv2d(x, w, b, c.stride, c.pad).to_vector();
    const std::vector<float> got =
        conv2d(x.to(Device::CUDA), w.to(Device::CUDA), b.to(Device::CUDA), c.stride, c.pad).to_vector();
    require_match(got, ref, kReduction.atol, kReduction.rtol,
                  "direct conv2d forward x" + shape_str(x.shape()) + " w" + shape_str(w.shape()), kReduction.atol_rms);
  }
}

TEST_CASE("CUDA conv2d_add_into equals the CPU (direct and column paths)", "[cuda][kernels]") {
  if (!have_gpu("conv2d_add_into")) return;
  // out = addend + conv2d(x, w): the addend is added where the kernels write (ConvDims::addend),
  // into rows of a larger tensor as a sweep pass writes them. LeNet-5's conv2 on two changed
  // channels at M = 700 * 100 >= 65536 positions (direct row kernel) and at 41 * 100 (columns +
  // GEMM). Tolerance as conv2d's forward.
  RandomStream rng(12, 12);
  NoGradGuard no_grad;
  for (int64_t n : {int64_t(700), int64_t(41)}) {
    const Tensor x = random_tensor({n, 2, 14, 14}, rng), w = random_tensor({16, 2, 5, 5}, rng);
    const Tensor addend = random_tensor({n, 16, 10, 10}, rng);
    Tensor ref = Tensor::empty({n, 16, 10, 10});
    conv2d_add_into(ref, x, w, addend, 1, 0);
    Tensor rows = Tensor::zeros({n + 3, 16, 10, 10}, DType::F32, Device::CUDA);
    Tensor out = slice_rows(rows, 2, n + 2);
    conv2d_add_into(out, x.to(Device::CUDA), w.to(Device::CUDA), addend.to(Device::CUDA), 1, 0);
    require_match(out.to_vector(), ref.to_vector(), kReduction.atol, kReduction.rtol,
                  "conv2d_add_into n=" + std::to_string(n), kReduction.atol_rms);
    const std::vector<float> all = rows.to_vector();
    const size_t per = 16 * 100;
    for (size_t i = 0; i < 2 * per; ++i) REQUIRE(all[i] == 0.0f);  // rows outside the slice untouched
    for (size_t i = (static_cast<size_t>(n) + 2) * per; i < all.size(); ++i) REQUIRE(all[i] == 0.0f);
  }
}

TEST_CASE("CUDA conv2d_multi/linear_multi blocks equal the single-weight GPU layers", "[cuda][kernels]") {
  if (!have_gpu("conv2d_multi")) return;
  RandomStream rng(9, 9);
  // K = 54 (direct kernel) and K = 288 (columns + GEMM); blocks must equal conv2d with w[p] exactly
  // (the same kernel on the same data).
  for (int64_t c_in : {6, 32}) {
    const Tensor x = random_tensor({2, c_in, 7, 6}, rng).to(Device::CUDA);
    const Tensor w = random_tensor({3, 5, c_in, 3, 3}, rng).to(Device::CUDA), b = random_tensor({5}, rng).to(Device::CUDA);
    const Tensor y = conv2d_multi(x, w, b, 1, 1);
    for (int64_t p = 0; p < 3; ++p) {
      const Tensor wp = slice_rows(w, p, p + 1).view({5, c_in, 3, 3});
      CHECK(slice_rows(y, 2 * p, 2 * p + 2).to_vector() == conv2d(x, wp, b, 1, 1).to_vector());
    }
  }
  const Tensor xl = random_tensor({33, 70}, rng).to(Device::CUDA), wl = random_tensor({4, 19, 70}, rng).to(Device::CUDA);
  const Tensor bl = random_tensor({19}, rng).to(Device::CUDA);
  const Tensor yl = linear_multi(xl, wl, bl);
  for (int64_t p = 0; p < 4; ++p)
    CHECK(slice_rows(yl, 33 * p, 33 * p + 33).to_vector() ==
          linear(xl, slice_rows(wl, p, p + 1).view({19, 70}), bl).to_vector());
}

TEST_CASE("CUDA SGD step equals the CPU bit for bit", "[cuda][kernels][optim]") {
  if (!have_gpu("sgd_update")) return;
#ifdef STUCKAT_WITH_CUDA
  RandomStream rng(7, 7);
  const int64_t n = 5003;  // not a multiple of the block size
  const std::vector<cpu::SgdConfig> configs = {{0.1f, 0.0f, 0.0f, 0.0f, false},
                                               {0.1f, 0.0f, 0.0f, 5e-4f, false},
                                               {0.05f, 0.9f, 0.0f, 5e-4f, false},
                                               {0.05f, 0.9f, 0.3f, 1e-3f, false},
                                               {0.05f, 0.9f, 0.0f, 5e-4f, true}};
  for (const cpu::SgdConfig& c : configs) {
    CAPTURE(c.lr, c.momentum, c.dampening, c.weight_decay, c.nesterov);
    Tensor p = random_tensor({n}, rng), buf = Tensor::zeros({n});
    Tensor pg = p.to(Device::CUDA), bufg = buf.to(Device::CUDA);
    for (int step = 0; step < 3; ++step) {
      const Tensor g = random_tensor({n}, rng), gg = g.to(Device::CUDA);
      cpu::sgd_update(p.data<float>(), g.data<float>(), buf.data<float>(), n, c, step == 0);
      cuda::sgd_update(pg.data<float>(), gg.data<float>(), bufg.data<float>(), n, c, step == 0);
      require_same_bits(pg.to_vector(), p.to_vector(), "parameters after step " + std::to_string(step));
      require_same_bits(bufg.to_vector(), buf.to_vector(), "momentum after step " + std::to_string(step));
    }
  }
#endif
}
