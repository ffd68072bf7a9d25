// The CUDA backend end to end: the 16-bit-word decode bit for bit against the CPU, the
// word-reading conv/linear kernels against dequantize-then-compute, and full training steps of
// every model family on the GPU against the same steps on the CPU.
// All [cuda]: they SKIP (warn and return) when built without CUDA or when no GPU is present.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "base/weight_format.h"
#include "base/word_codec.h"
#include "framework/autograd.h"
#include "base/device.h"
#include "framework/ops.h"
#include "framework/optim/sgd.h"
#include "framework/random.h"
#include "framework/tensor.h"
#include "tests/gpu_available.h"
#include "kernels/cpu/quantized_layers.h"
#include "models/model_zoo.h"
#ifdef STUCKAT_WITH_CUDA
#include "kernels/cuda/memory.h"
#include "kernels/cuda/queue_mark.h"
#include "kernels/cuda/quantized_layers.h"
#endif

using namespace stuckat;

namespace {

std::vector<float> random_floats(int64_t n, RandomStream& rng, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = rng.next_uniform(lo, hi);
  return v;
}

// NMSE = sum (got-ref)^2 / sum ref^2 <= max_nmse (1e-7 unless a test says why not), and
// |got - ref| <= atol + rtol * |ref| elementwise.
void require_match(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol,
                   const std::string& what, double max_nmse = 1e-7) {
  INFO(what);
  REQUIRE(got.size() == ref.size());
  double err = 0, norm = 0, worst_excess = 0;
  size_t worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(got[i]) - ref[i];
    err += d * d;
    norm += static_cast<double>(ref[i]) * ref[i];
    const double excess = std::abs(d) - (atol + rtol * std::abs(static_cast<double>(ref[i])));
    if (!(excess <= worst_excess)) {  // also catches NaN
      worst_excess = std::isnan(excess) ? 1e30 : excess;
      worst = i;
    }
  }
  INFO("worst element " << worst << " of " << ref.size() << ": got " << got[worst] << " want " << ref[worst]);
  REQUIRE(worst_excess <= 0.0);
  INFO("NMSE " << (norm > 0 ? err / norm : 0.0));
  if (norm > 0) REQUIRE(err / norm <= max_nmse);
}

// After a whole training step (see the tolerance note in the test below): NMSE <= max_nmse, no
// NaN, and at most one element in a thousand further off than the tensor's RMS plus its own size
// (a switched ReLU / pool decision moves the elements summing over that position by one term,
// which in a layer with few terms per element can exceed the RMS: ResNet-18's layer4.1.conv2
// gradient, 64 terms an element at batch 4, had 1 such element of 2359296 on an H200).
void require_step_match(const std::vector<float>& got, const std::vector<float>& ref, const std::string& what,
                        double max_nmse) {
  INFO(what);
  REQUIRE(got.size() == ref.size());
  double sum_sq = 0;
  for (float r : ref) sum_sq += static_cast<double>(r) * r;
  const double scale = ref.empty() ? 0.0 : std::sqrt(sum_sq / static_cast<double>(ref.size()));
  double err = 0, worst_excess = 0;
  size_t worst = 0, outside = 0, nan = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double r = ref[i], d = std::abs(static_cast<double>(got[i]) - r);
    err += d * d;
    const double excess = d - (scale + std::abs(r));
    if (std::isnan(excess)) ++nan;
    if (excess > 0) ++outside;
    if (!(excess <= worst_excess)) {
      worst_excess = std::isnan(excess) ? 1e30 : excess;
      worst = i;
    }
  }
  INFO("worst element " << worst << " of " << ref.size() << ": got " << got[worst] << " want " << ref[worst]
                        << ", RMS " << scale << "; " << outside << " elements past RMS + own size");
  REQUIRE(nan == 0);
  REQUIRE(outside <= ref.size() / 1000);
  INFO("NMSE " << (sum_sq > 0 ? err / sum_sq : 0.0));
  if (sum_sq > 0) REQUIRE(err / sum_sq <= max_nmse);
}

double rms(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return v.empty() ? 0.0 : std::sqrt(s / static_cast<double>(v.size()));
}

#ifdef STUCKAT_WITH_CUDA
// Words spread over the whole 16-bit range (every bit pattern class: sign, large, small, zero,
// and for fp16 subnormals, inf and NaN).
std::vector<uint16_t> random_words(int64_t n, RandomStream& rng) {
  std::vector<uint16_t> w(static_cast<size_t>(n));
  for (auto& e : w) e = static_cast<uint16_t>(rng.next_u32() & 0xFFFFu);
  return w;
}

Tensor words_on_gpu(const std::vector<uint16_t>& words) {
  Tensor t = Tensor::empty({static_cast<int64_t>(words.size())}, DType::I16);
  std::memcpy(t.raw_data(), words.data(), words.size() * sizeof(uint16_t));
  return t.to(Device::CUDA);
}

const uint16_t* word_ptr(const Tensor& t) { return static_cast<const uint16_t*>(t.raw_data()); }

std::vector<WeightFormat> word_formats() {
  WeightFormat maxabs = parse_weight_format("maxabs");
  maxabs.scale = 0.37f / 32767.0f;  // a resolved per-layer scale
  return {parse_weight_format("q4.11"), parse_weight_format("q1.14"), maxabs, parse_weight_format("signmag"),
          parse_weight_format("fp16")};
}
#endif

}  // namespace

TEST_CASE("CUDA word decode equals the CPU bit for bit", "[cuda][faults]") {
  if (!have_gpu("dequantize_words")) return;
#ifdef STUCKAT_WITH_CUDA
  RandomStream rng(11, 11);
  const int64_t n = 70001;
  std::vector<uint16_t> words = random_words(n, rng);
  for (uint16_t special : {0x0000, 0x8000, 0x7FFF, 0x0001, 0xFFFF, 0x7C00, 0xFC00, 0x7E00, 0x03FF})
    words.push_back(special);
  const Tensor wg = words_on_gpu(words);
  for (const WeightFormat& f : word_formats()) {
    CAPTURE(weight_format_name(f));
    std::vector<float> ref(words.size());
    cpu::dequantize_words_ref(words.data(), static_cast<int64_t>(words.size()), f.kind, f.step(), ref.data());
    Tensor out = Tensor::empty({static_cast<int64_t>(words.size())}, DType::F32, Device::CUDA);
    cuda::dequantize_words(word_ptr(wg), static_cast<int64_t>(words.size()), f.kind, f.step(), out.data<float>());
    const std::vector<float> got = out.to_vector();
    for (size_t i = 0; i < ref.size(); ++i) {
      INFO("word " << words[i] << ": got " << got[i] << " want " << ref[i]);
      REQUIRE(std::memcmp(&got[i], &ref[i], sizeof(float)) == 0);  // NaN payloads included
    }
  }
#endif
}

TEST_CASE("CUDA conv2d/linear reading 16-bit words equal dequantize-then-compute", "[cuda][faults][kernels]") {
  if (!have_gpu("conv2d_words/linear_words")) return;
#ifdef STUCKAT_WITH_CUDA
  RandomStream rng(12, 12);
  // Integer formats only here: random fp16 words include inf/NaN, which the decode test covers.
  std::vector<WeightFormat> formats = word_formats();
  formats.pop_back();
  for (const WeightFormat& f : formats) {
    CAPTURE(weight_format_name(f));
    // Weights of the layer's realistic range: words of small magnitude (|value| <~ 1).
    auto layer_words = [&](int64_t n) {
      std::vector<uint16_t> w(static_cast<size_t>(n));
      for (auto& e : w) {
        const float v = rng.next_uniform(-0.5f, 0.5f);
        bool saturated = false;
        e = encode_word(v, f.kind, f.step(), &saturated);
      }
      return w;
    };
    for (const cpu::Conv2dShape& s : {cpu::Conv2dShape{3, 5, 11, 13, 7, 3, 3, 2, 1},
                                      cpu::Conv2dShape{2, 6, 14, 14, 16, 5, 5, 1, 0},
                                      cpu::Conv2dShape{2, 8, 9, 9, 4, 1, 1, 2, 0}}) {
      const std::vector<float> x = random_floats(s.n * s.c_in * s.h * s.w, rng), b = random_floats(s.c_out, rng);
      const std::vector<uint16_t> w = layer_words(s.c_out * s.c_in * s.kh * s.kw);
      std::vector<float> ref(static_cast<size_t>(s.n * s.c_out * s.h_out() * s.w_out()));
      cpu::conv2d_words_forward_ref(x.data(), w.data(), f.kind, f.step(), b.data(), ref.data(), s);
      const Tensor xg = Tensor::from_vector(x, {static_cast<int64_t>(x.size())}).to(Device::CUDA);
      const Tensor bg = Tensor::from_vector(b, {s.c_out}).to(Device::CUDA);
      const Tensor wg = words_on_gpu(w);
      Tensor yg = Tensor::empty({static_cast<int64_t>(ref.size())}, DType::F32, Device::CUDA);
      cuda::conv2d_words_forward(xg.data<float>(), word_ptr(wg), f.kind, f.step(), bg.data<float>(),
                                 yg.data<float>(), s);
      // Dot products of up to 150 terms in [-1, 1] x [-0.5, 0.5], accumulated in a different
      // order (and with FMAs) than the reference: the error is ~sqrt(terms) ulps of the partial
      // sums (~1e-6 of the output RMS), so rtol 1e-4 and atol 1e-5 + 1e-5 * RMS for sums that cancel.
      require_match(yg.to_vector(), ref, 1e-5 + 1e-5 * rms(ref), 1e-4, "conv2d_words");
    }
    for (const cpu::LinearShape& s : {cpu::LinearShape{33, 70, 19}, cpu::LinearShape{64, 400, 120}}) {
      const std::vector<float> x = random_floats(s.n * s.in, rng), b = random_floats(s.out, rng);
      const std::vector<uint16_t> w = layer_words(s.out * s.in);
      std::vector<float> ref(static_cast<size_t>(s.n * s.out));
      cpu::linear_words_forward_ref(x.data(), w.data(), f.kind, f.step(), b.data(), ref.data(), s);
      const Tensor xg = Tensor::from_vector(x, {s.n * s.in}).to(Device::CUDA);
      const Tensor bg = Tensor::from_vector(b, {s.out}).to(Device::CUDA);
      const Tensor wg = words_on_gpu(w);
      Tensor yg = Tensor::empty({s.n * s.out}, DType::F32, Device::CUDA);
      cuda::linear_words_forward(xg.data<float>(), word_ptr(wg), f.kind, f.step(), bg.data<float>(), yg.data<float>(),
                                 s);
      // Up to 400-term dot products, summed by 32 lanes then a shuffle tree: as for conv2d.
      require_match(yg.to_vector(), ref, 1e-5 + 1e-5 * rms(ref), 1e-4, "linear_words");
    }
  }
#endif
}

TEST_CASE("A training step on the GPU equals the same step on the CPU", "[cuda][train]") {
  if (!have_gpu("training steps")) return;
  for (const std::string name : {"lenet5", "lenet5_bn", "vgg11", "vgg11_bn", "resnet18"}) {
    CAPTURE(name);
    const ModelSpec spec = parse_model_name(name);
    auto cpu_model = make_model(spec, 21);
    auto gpu_model = make_model(spec, 21);
    gpu_model->to(Device::CUDA);
    const SgdOptions options{0.05f, 0.9f, 0.0f, 5e-4f, false};
    Sgd cpu_opt(cpu_model->parameters(), options), gpu_opt(gpu_model->parameters(), options);
    RandomStream rng(13, 13);
    const int64_t n = 4;
    const Tensor x = Tensor::from_vector(random_floats(n * spec.in_channels * spec.in_size * spec.in_size, rng),
                                         {n, spec.in_channels, spec.in_size, spec.in_size});
    std::vector<int32_t> l(static_cast<size_t>(n));
    for (auto& e : l) e = static_cast<int32_t>(rng.next_uniform(0.0f, 9.999f));
    const Tensor labels = Tensor::from_vector(l, {n});
    const Tensor xg = x.to(Device::CUDA), lg = labels.to(Device::CUDA);
    // Tolerances for whole networks. Each op is checked at NMSE <= 1e-7 and elementwise in
    // test_cuda_ops.cpp; here the ops' rounding differences (~1e-6 relative) meet ReLU and
    // max-pool decisions: a pre-activation within ~1e-6 of its threshold (about one in a million
    // for unit-scale values; a VGG11 step at batch 4 makes ~6e5 such decisions, ResNet-18 ~2.5e6)
    // can go the other way, which lets one gradient value through where the other backend
    // blocked it. That moves every weight-gradient element summing over that position by one
    // term, ~1/sqrt(terms) of the tensor's RMS: on an H200, VGG11's features.8 gradient
    // (589824 values, 256 terms each) had 663 elements more than 1e-2 of its RMS apart, as one
    // switch predicts (it touches the 2304 weights of one output channel, each by ~RMS/16, an
    // NMSE of ~1.5e-5); the other 99.9% agreed. Gradients and the updated state are compared
    // at NMSE <= 1e-3 (room for several switches) with no element further off than the RMS plus
    // its own size; a wrong kernel or a missing term gives NMSE of order 1.
    // The forward values (loss, eval logits) have no such switches and keep tight tolerances.
    const double step_nmse = 1e-3;
    for (int step = 0; step < 2; ++step) {
      CAPTURE(step);
      cpu_opt.zero_grad();
      gpu_opt.zero_grad();
      const Tensor loss_cpu = cross_entropy(cpu_model->forward(x), labels);
      const Tensor loss_gpu = cross_entropy(gpu_model->forward(xg), lg);
      require_match({loss_gpu.item()}, {loss_cpu.item()}, 0.0, 1e-4, "loss");
      loss_cpu.backward();
      loss_gpu.backward();
      const auto pc = cpu_model->named_parameters(), pg = gpu_model->named_parameters();
      REQUIRE(pc.size() == pg.size());
      // A bias that feeds batch norm in training mode has gradient exactly zero (the batch mean
      // removes it); both backends return rounding noise there (lenet5_bn's conv1.bias on an
      // H200: +-1.2e-7), whose signs need not agree. A bias gradient under 1e-4 of the largest
      // gradient RMS is taken for such a zero (a live bias gradient is far larger), and the
      // GPU's must be as small; every other gradient is compared with the CPU's.
      double model_scale = 0;
      for (const auto& p : pc) model_scale = std::max(model_scale, rms(p.second.grad().to_vector()));
      for (size_t i = 0; i < pc.size(); ++i) {
        const std::vector<float> ref = pc[i].second.grad().to_vector();
        const std::vector<float> got = pg[i].second.grad().to_vector();
        const std::string& pname = pc[i].first;
        const bool bias = pname.size() >= 4 && pname.compare(pname.size() - 4, 4, "bias") == 0;
        if (bias && rms(ref) <= 1e-4 * model_scale) {
          INFO("gradient of " << pname << " is zero on the CPU (RMS " << rms(ref) << "); GPU RMS " << rms(got)
                              << ", largest gradient RMS " << model_scale);
          REQUIRE(rms(got) <= 1e-4 * model_scale);
          continue;
        }
        require_step_match(got, ref, "gradient of " + pc[i].first, step_nmse);
      }
      cpu_opt.step();
      gpu_opt.step();
    }
    // Parameters and buffers (batch-norm running statistics) after two steps.
    const auto sc = cpu_model->named_state(), sg = gpu_model->named_state();
    REQUIRE(sc.size() == sg.size());
    for (size_t i = 0; i < sc.size(); ++i) {
      if (sc[i].second.dtype() != DType::F32) continue;  // num_batches_tracked counts on the host
      const std::vector<float> ref = sc[i].second.to_vector();
      require_step_match(sg[i].second.to_vector(), ref, "state " + sc[i].first, step_nmse);
    }
    // Evaluation mode (running statistics, no gradients), as the evaluate() loop runs it.
    NoGradGuard no_grad;
    cpu_model->eval();
    gpu_model->eval();
    const std::vector<float> ref = cpu_model->forward(x).to_vector();
    // Forward only, from parameters that agree to ~1e-6 relative after two steps.
    require_match(gpu_model->forward(xg).to_vector(), ref, 1e-3 * rms(ref), 1e-3, "eval logits");
  }
}

TEST_CASE("Warm GPU training steps allocate no device memory", "[cuda][train]") {
  if (!have_gpu("caching allocator")) return;
#ifdef STUCKAT_WITH_CUDA
  for (const std::string name : {"lenet5_bn", "resnet18"}) {
    CAPTURE(name);
    const ModelSpec spec = parse_model_name(name);
    auto model = make_model(spec, 3);
    model->to(Device::CUDA);
    Sgd opt(model->parameters(), SgdOptions{0.01f, 0.9f, 0.0f, 5e-4f, false});
    RandomStream rng(14, 14);
    const int64_t n = 16;
    const Tensor x = Tensor::from_vector(random_floats(n * spec.in_channels * spec.in_size * spec.in_size, rng),
                                         {n, spec.in_channels, spec.in_size, spec.in_size})
                         .to(Device::CUDA);
    std::vector<int32_t> l(static_cast<size_t>(n), 3);
    const Tensor labels = Tensor::from_vector(l, {n}).to(Device::CUDA);
    auto step = [&] {
      opt.zero_grad();
      Tensor loss = cross_entropy(model->forward(x), labels);
      loss.backward();
      opt.step();
      (void)loss.item();
    };
    for (int i = 0; i < 3; ++i) step();  // fills the caching allocator and the scratch buffer
    const long long before = cuda::device_malloc_count();
    for (int i = 0; i < 5; ++i) step();
    REQUIRE(cuda::device_malloc_count() == before);
  }
#endif
}

TEST_CASE("Queue marks time queued GPU work; device_malloc_ms counts allocation time", "[cuda][trace]") {
  if (!have_gpu("queue marks")) return;
#ifdef STUCKAT_WITH_CUDA
  cuda::QueueMark a, b;
  CHECK(b.ms_since(a) == -1);  // never recorded
  RandomStream rng(3, 3);
  const Tensor x = Tensor::from_vector(random_floats(64 * 16 * 32 * 32, rng), {64, 16, 32, 32}).to(Device::CUDA);
  const Tensor w = Tensor::from_vector(random_floats(32 * 16 * 3 * 3, rng), {32, 16, 3, 3}).to(Device::CUDA);
  (void)conv2d(x, w, Tensor(), 1, 1).to(Device::CPU);  // kernels loaded, sizes allocated
  const auto t0 = std::chrono::steady_clock::now();
  a.record();
  Tensor y;
  for (int i = 0; i < 20; ++i) y = conv2d(x, w, Tensor(), 1, 1);
  b.record();
  (void)y.to(Device::CPU);  // waits for the queue
  const double host_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const double device_ms = b.ms_since(a);
  INFO("device " << device_ms << " ms, host " << host_ms << " ms");
  CHECK(device_ms > 0);
  CHECK(device_ms <= host_ms + 0.01);  // the device's stretch lies within the host's (events resolve ~0.5 us)

  const long long count = cuda::device_malloc_count();
  const double ms = cuda::device_malloc_ms();
  const Tensor fresh = Tensor::empty({12345671}, DType::F32, Device::CUDA);  // a size nothing else uses
  CHECK(cuda::device_malloc_count() == count + 1);
  CHECK(cuda::device_malloc_ms() > ms);
#endif
}

TEST_CASE("Host-to-device copies may reuse their source at once, land in order, staged or not", "[cuda][memory]") {
  if (!have_gpu("host-to-device copies")) return;
#ifdef STUCKAT_WITH_CUDA
  // Sizes around the staging ring's 4 MiB slots and past its eight slots' worth, each copied from
  // one host buffer that is overwritten as soon as the copy returns, while the GPU is still busy
  // with earlier work (so the copies queue and the ring's slots are still in flight when reused).
  const std::vector<size_t> sizes = {1, 3, 4101, (4u << 20) - 1, (4u << 20) + 7, (9u << 20) + 3, 65536, 17};
  const int copies_per_thread = 24;
  auto pattern = [](int thread, int k, size_t i) {
    return static_cast<uint8_t>(thread * 101 + k * 31 + i * 7 + (i >> 9));
  };
  auto region_bytes = [&](int k) { return sizes[static_cast<size_t>(k) % sizes.size()]; };
  size_t per_thread = 0;
  for (int k = 0; k < copies_per_thread; ++k) per_thread += region_bytes(k);
  RandomStream rng(5, 5);
  const Tensor x = Tensor::from_vector(random_floats(64 * 16 * 32 * 32, rng), {64, 16, 32, 32}).to(Device::CUDA);
  const Tensor w = Tensor::from_vector(random_floats(32 * 16 * 3 * 3, rng), {32, 16, 3, 3}).to(Device::CUDA);
  const bool was = cuda::pinned_staging();
  for (const bool staged : {true, false}) {
    for (const int threads : {1, 2}) {
      CAPTURE(staged, threads);
      cuda::set_pinned_staging(staged);
      REQUIRE(cuda::pinned_staging() == staged);
      auto* dev = static_cast<uint8_t*>(cuda::device_malloc(per_thread * threads));
      Tensor y;
      for (int i = 0; i < 20; ++i) y = conv2d(x, w, Tensor(), 1, 1);  // keeps the GPU busy
      auto upload = [&](int t) {
        const cuda::UploadStats before = cuda::upload_stats();
        std::vector<uint8_t> host;
        size_t at = per_thread * t;
        for (int k = 0; k < copies_per_thread; ++k) {
          const size_t n = region_bytes(k);
          host.resize(n);
          for (size_t i = 0; i < n; ++i) host[i] = pattern(t, k, i);
          cuda::copy(dev + at, true, host.data(), false, n);
          std::fill(host.begin(), host.end(), uint8_t{0xEE});  // the copy must not read it any more
          at += n;
        }
        return (cuda::upload_stats() - before).count;
      };
      long long counted[2] = {0, 0};
      if (threads == 1) {
        counted[0] = upload(0);
      } else {
        std::thread other([&] { counted[1] = upload(1); });
        counted[0] = upload(0);
        other.join();
      }
      for (int t = 0; t < threads; ++t) CHECK(counted[t] == copies_per_thread);  // each thread counts its own
      std::vector<uint8_t> back(per_thread * threads);
      cuda::copy(back.data(), false, dev, true, back.size());
      cuda::device_free(dev);
      for (int t = 0; t < threads; ++t) {
        size_t at = per_thread * t, wrong = 0;
        for (int k = 0; k < copies_per_thread; ++k) {
          const size_t n = region_bytes(k);
          for (size_t i = 0; i < n; ++i) wrong += back[at + i] != pattern(t, k, i);
          at += n;
        }
        CAPTURE(t);
        CHECK(wrong == 0);
      }
    }
  }
  cuda::set_pinned_staging(was);
#endif
}
