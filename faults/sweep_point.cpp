// fault_layer (sweep_point.h): the CPU loop, or the CUDA kernel for device tensors.
#include "faults/sweep_point.h"

#include "framework/error.h"
#ifdef STUCKAT_WITH_CUDA
#include "faults/sweep_point_cuda.h"
#endif

namespace stuckat {

void fault_layer_into(const FaultDraw& d, const Tensor& words, const Tensor& clean, const WeightFormat& format,
                      const Tensor& out, const Tensor& counts) {
  const int64_t n = words.numel();
  STUCKAT_CHECK(words.dtype() == DType::I16 && clean.dtype() == DType::F32 && out.dtype() == DType::F32 &&
                    clean.numel() == n && out.numel() == n && words.is_contiguous() && clean.is_contiguous() &&
                    out.is_contiguous(),
                "fault_layer: words (i16), clean and out (f32) must be contiguous with {} entries each", n);
  STUCKAT_CHECK(counts.dtype() == DType::I64 && counts.numel() == 2 && counts.is_contiguous(),
                "fault_layer: counts must be 2 contiguous i64 entries");
  STUCKAT_CHECK(words.device() == clean.device() && words.device() == out.device() && words.device() == counts.device(),
                "fault_layer: words, clean weights, output and counts must be on one device");
  const auto* w = static_cast<const uint16_t*>(words.raw_data());
  if (out.device() == Device::CUDA) {
#ifdef STUCKAT_WITH_CUDA
    fault_layer_cuda(d, w, clean.data<float>(), n, format, out.data<float>(),
                     static_cast<unsigned long long*>(counts.raw_data()));
    return;
#else
    throw Error("fault_layer: this build has no CUDA backend");
#endif
  }
  const float* c = clean.data<float>();
  float* o = out.data<float>();
  const float step = format.step();
  int64_t faulty = 0, changed = 0;
#pragma omp parallel for schedule(static) reduction(+ : faulty, changed) if (n >= (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    bool f;
    const uint16_t word = point_fault_word(d, static_cast<uint64_t>(i), w[i], c[i], &f);
    faulty += f ? 1 : 0;
    changed += word != w[i] ? 1 : 0;
    o[i] = decode_word(word, format.kind, step);
  }
  auto* out_counts = static_cast<int64_t*>(counts.raw_data());
  out_counts[0] = faulty;
  out_counts[1] = changed;
}

PointFaultCounts fault_layer(const FaultDraw& d, const Tensor& words, const Tensor& clean, const WeightFormat& format,
                             const Tensor& out) {
  const Tensor counts = Tensor::empty({2}, DType::I64, out.device());
  fault_layer_into(d, words, clean, format, out, counts);
  const Tensor host = counts.to(Device::CPU);
  const auto* c = static_cast<const int64_t*>(host.raw_data());
  return {c[0], c[1]};
}

}  // namespace stuckat
