// fault_layer (sweep_point.h): the CPU loop, or the CUDA kernel for device tensors.
#include "sweep/sweep_point.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "framework/ops.h"
#include "sweep/cuda/sweep_point_cuda.h"

namespace stuckat::sweep {

void fault_layer_into(const FaultDraw& d, const Tensor& words, const Tensor& clean, const WeightFormat& format,
                      const Tensor& out, const Tensor& counts, const Tensor& changed_bits) {
  const int64_t n = words.numel();
  STUCKAT_CHECK(words.dtype() == DType::I16 && clean.dtype() == DType::F32 && out.dtype() == DType::F32 &&
                    clean.numel() == n && out.numel() == n && words.is_contiguous() && clean.is_contiguous() &&
                    out.is_contiguous(),
                "fault_layer: words (i16), clean and out (f32) must be contiguous with {} entries each", n);
  STUCKAT_CHECK(counts.dtype() == DType::I64 && counts.numel() == 2 && counts.is_contiguous(),
                "fault_layer: counts must be 2 contiguous i64 entries");
  STUCKAT_CHECK(words.device() == clean.device() && words.device() == out.device() && words.device() == counts.device(),
                "fault_layer: words, clean weights, output and counts must be on one device");
  const int64_t bit_words = (n + 31) / 32;
  STUCKAT_CHECK(!changed_bits.defined() ||
                    (changed_bits.dtype() == DType::I32 && changed_bits.numel() == bit_words &&
                     changed_bits.is_contiguous() && changed_bits.device() == words.device()),
                "fault_layer: changed_bits must be {} contiguous i32 entries on the weights' device", bit_words);
  auto* bits = changed_bits.defined() ? static_cast<uint32_t*>(changed_bits.raw_data()) : nullptr;
  const auto* w = static_cast<const uint16_t*>(words.raw_data());
  if (out.device() == Device::CUDA) {
    fault_layer_cuda(d, w, clean.data<float>(), n, format, out.data<float>(),
                     static_cast<unsigned long long*>(counts.raw_data()), bits);
    return;
  }
  const float* c = clean.data<float>();
  float* o = out.data<float>();
  const float step = format.step();
  int64_t faulty = 0, changed = 0;
  // In runs of 32 weights, one changed_bits entry each.
#pragma omp parallel for schedule(static) reduction(+ : faulty, changed) if (n >= (1 << 15))
  for (int64_t b = 0; b < bit_words; ++b) {
    uint32_t mask = 0;
    for (int64_t i = b * 32; i < std::min(n, b * 32 + 32); ++i) {
      bool f;
      const uint16_t word = point_fault_word(d, static_cast<uint64_t>(i), w[i], c[i], &f);
      faulty += f ? 1 : 0;
      if (word != w[i]) {
        ++changed;
        mask |= uint32_t{1} << (i - b * 32);
      }
      o[i] = decode_word(word, format.kind, step);
    }
    if (bits) bits[b] = mask;
  }
  auto* out_counts = static_cast<int64_t*>(counts.raw_data());
  out_counts[0] = faulty;
  out_counts[1] = changed;
}

void fault_layers_into(const std::vector<FaultDraw>& draws, const Tensor& words, const Tensor& clean,
                       const WeightFormat& format, const Tensor& out, const Tensor& counts, const Tensor& changed_bits) {
  const int64_t m = static_cast<int64_t>(draws.size()), n = words.numel(), bit_words = (n + 31) / 32;
  STUCKAT_CHECK(out.dim() == 2 && out.size(0) == m && out.size(1) == n && counts.dim() == 2 && counts.size(0) == m &&
                    counts.size(1) == 2 && changed_bits.dim() == 2 && changed_bits.size(0) == m &&
                    changed_bits.size(1) == bit_words,
                "fault_layers_into: {} points need out ({}, {}), counts ({}, 2) and changed_bits ({}, {})", m, m, n, m, m,
                bit_words);
  if (out.device() == Device::CPU) {
    for (int64_t i = 0; i < m; ++i)
      fault_layer_into(draws[static_cast<size_t>(i)], words, clean, format, slice_rows(out, i, i + 1).view({n}),
                       slice_rows(counts, i, i + 1).view({2}), slice_rows(changed_bits, i, i + 1).view({bit_words}));
    return;
  }
  STUCKAT_CHECK(words.dtype() == DType::I16 && clean.dtype() == DType::F32 && out.dtype() == DType::F32 &&
                    counts.dtype() == DType::I64 && changed_bits.dtype() == DType::I32 && clean.numel() == n &&
                    words.is_contiguous() && clean.is_contiguous() && out.is_contiguous() && counts.is_contiguous() &&
                    changed_bits.is_contiguous() && words.device() == out.device() && clean.device() == out.device() &&
                    counts.device() == out.device() && changed_bits.device() == out.device(),
                "fault_layers_into: words (i16), clean, out (f32), counts (i64) and changed_bits (i32) must be "
                "contiguous on one device");
  for (int64_t p0 = 0; p0 < m; p0 += kStackedDrawsMax) {
    const int64_t p1 = std::min<int64_t>(m, p0 + kStackedDrawsMax);
    StackedDraws d{};
    for (int64_t p = p0; p < p1; ++p) d.d[p - p0] = draws[static_cast<size_t>(p)];
    fault_layers_cuda(d, p1 - p0, static_cast<const uint16_t*>(words.raw_data()), clean.data<float>(), n, format,
                      out.data<float>() + p0 * n, static_cast<unsigned long long*>(counts.raw_data()) + 2 * p0,
                      static_cast<uint32_t*>(changed_bits.raw_data()) + p0 * bit_words);
  }
}

PointFaultCounts fault_layer(const FaultDraw& d, const Tensor& words, const Tensor& clean, const WeightFormat& format,
                             const Tensor& out) {
  const Tensor counts = Tensor::empty({2}, DType::I64, out.device());
  fault_layer_into(d, words, clean, format, out, counts);
  const Tensor host = counts.to(Device::CPU);
  const auto* c = static_cast<const int64_t*>(host.raw_data());
  return {c[0], c[1]};
}

std::vector<WeightChange> changed_weights(const FaultDraw& d, const uint32_t* changed_bits, const Tensor& words,
                                          const Tensor& clean, const Tensor& quantized, const WeightFormat& format) {
  const int64_t n = words.numel();
  STUCKAT_CHECK(words.device() == Device::CPU && clean.device() == Device::CPU && quantized.device() == Device::CPU &&
                    words.dtype() == DType::I16 && clean.numel() == n && quantized.numel() == n,
                "changed_weights: the layer's words and weights must be on the CPU, {} each", n);
  const auto* w = static_cast<const uint16_t*>(words.raw_data());
  const float* c = clean.data<float>();
  const float* q = quantized.data<float>();
  const float step = format.step();
  std::vector<WeightChange> changes;
  for (int64_t b = 0; b < (n + 31) / 32; ++b)
    for (uint32_t mask = changed_bits[b]; mask != 0; mask &= mask - 1) {
      const int64_t i = b * 32 + __builtin_ctz(mask);
      bool f;
      const float value = decode_word(point_fault_word(d, static_cast<uint64_t>(i), w[i], c[i], &f), format.kind, step);
      if (std::memcmp(&value, &q[i], sizeof(float)) != 0) changes.push_back({i, value - q[i]});
    }
  return changes;
}

}  // namespace stuckat::sweep
