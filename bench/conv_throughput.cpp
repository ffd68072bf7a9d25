// CPU conv2d throughput per layer shape (the VGG11 and ResNet-18 convolutions at 32x32), through
// the framework's conv2d: the forward alone, or with --backward a training step's forward and
// gradients (the autograd node's conv2d_backward). Each shape's forward is first checked against
// the naive reference on a few images, so a fast-but-wrong kernel cannot produce a number (the
// gradients are checked by the kernel tests). Prints one JSON object per shape;
// bench/conv_cpu.py runs it beside PyTorch's conv2d and prints the ratios.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/parallel.h"
#include "framework/random.h"
#include "kernels/cpu/conv2d.h"

using namespace stuckat;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

Tensor uniform(const Shape& shape, uint64_t seed) {
  RandomStream rng(seed, 1);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = rng.next_uniform(-1.0f, 1.0f);
  return Tensor::from_vector(v, shape);
}

struct ConvCase {
  std::string name;
  int64_t c_in, c_out, size, k, stride, pad;
};

// "name:c_in:c_out:size:k:stride:pad"
ConvCase parse_case(const std::string& text) {
  ConvCase c;
  std::vector<std::string> f;
  size_t start = 0;
  while (true) {
    const size_t colon = text.find(':', start);
    f.push_back(text.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (f.size() != 7) throw std::runtime_error("--case " + text + ": expected name:c_in:c_out:size:k:stride:pad");
  c.name = f[0];
  c.c_in = std::stoll(f[1]), c.c_out = std::stoll(f[2]), c.size = std::stoll(f[3]);
  c.k = std::stoll(f[4]), c.stride = std::stoll(f[5]), c.pad = std::stoll(f[6]);
  return c;
}

bool matches_reference(const ConvCase& c) {
  NoGradGuard no_grad;
  const int64_t n = 2;
  const Tensor x = uniform({n, c.c_in, c.size, c.size}, 1), w = uniform({c.c_out, c.c_in, c.k, c.k}, 2),
               b = uniform({c.c_out}, 3);
  const Tensor y = conv2d(x, w, b, c.stride, c.pad);
  cpu::Conv2dShape s{n, c.c_in, c.size, c.size, c.c_out, c.k, c.k, c.stride, c.pad};
  std::vector<float> ref(static_cast<size_t>(y.numel()));
  cpu::conv2d_forward_ref(x.data<float>(), w.data<float>(), b.data<float>(), ref.data(), s);
  const float* got = y.data<float>();
  const double tol = 1e-5 * static_cast<double>(c.c_in * c.k * c.k);
  for (size_t i = 0; i < ref.size(); ++i)
    if (std::abs(got[i] - ref[i]) > tol * (1.0 + std::abs(ref[i]))) return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CPU conv2d throughput per layer shape"};
  std::vector<std::string> cases;
  int64_t batch = 64;
  double seconds = 1.0;
  int threads = 0;
  app.add_option("--case", cases, "name:c_in:c_out:size:k:stride:pad (repeatable)")->required();
  app.add_option("--batch", batch);
  app.add_option("--seconds", seconds, "time per shape");
  app.add_option("--threads", threads, "CPU threads (0: all cores)");
  bool backward = false;
  app.add_flag("--backward", backward,
               "time a training step's convolution: forward, then the input, weight and bias gradients");
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) set_num_threads(threads);
  for (const std::string& text : cases) {
    const ConvCase c = parse_case(text);
    if (!matches_reference(c)) {
      std::fprintf(stderr, "bench_conv: %s differs from the reference convolution\n", c.name.c_str());
      return 1;
    }
    Tensor x = uniform({batch, c.c_in, c.size, c.size}, 4), w = uniform({c.c_out, c.c_in, c.k, c.k}, 5),
           b = uniform({c.c_out}, 6);
    const int64_t out = (c.size + 2 * c.pad - c.k) / c.stride + 1;
    const Tensor dy = uniform({batch, c.c_out, out, out}, 7);
    for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(backward);
    auto step = [&] {
      const Tensor y = conv2d(x, w, b, c.stride, c.pad);
      if (backward) run_backward(y, dy);  // the gradients accumulate into x, w and b, as in PyTorch
    };
    for (int i = 0; i < 2; ++i) step();
    int64_t calls = 0;
    const double t0 = now();
    double dt = 0;
    while ((dt = now() - t0) < seconds || calls < 3) {
      step();
      ++calls;
    }
    // Forward, then (with --backward) the input and weight gradients: as many multiply-adds each.
    const double flops = (backward ? 3.0 : 1.0) * 2.0 *
                         static_cast<double>(batch * c.c_out * out * out * c.c_in * c.k * c.k) * calls;
    nlohmann::json j{{"framework", "stuckat"}, {"case", c.name}, {"batch", batch}, {"backward", backward},
                     {"ms", 1e3 * dt / calls}, {"gflops", flops / dt * 1e-9}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}
