// The fused fault-aware update on the GPU: one thread per weight, the arithmetic of
// fault_sgd_update_ref.cpp statement for statement. Built with --fmad=false so nvcc fuses
// nothing on its own; the fmaf calls sit where the CPU code has std::fma, and word_codec.h's
// encode/decode (rintf = round half to even, one IEEE division, one multiply) are shared.
#include "faults/cuda/fault_sgd_update_cuda.h"
#include "base/word_codec.h"
#include "kernels/cuda/cuda_check.h"

namespace stuckat {
namespace {

__global__ void fault_sgd_kernel(float* master, float* w_eff, const float* grad, float* buf, const uint8_t* prune,
                                 const uint16_t* and_mask, const uint16_t* or_mask, int64_t n, FaultSgdConfig c,
                                 bool first) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const bool faulty = and_mask != nullptr && (and_mask[i] != 0xFFFF || or_mask[i] != 0);
  const bool pruned = prune != nullptr && prune[i] == 0;
  const bool use_mom = c.momentum != 0.0f;
  if (pruned) {  // the word of 0 with the cell's stuck bits, where the mode keeps faults
    float v = 0.0f;
    if (faulty && (c.mode == FaultMode::KeepBit || c.mode == FaultMode::KeepWeight || c.mode == FaultMode::Clip)) {
      bool zero_saturated = false;
      const uint16_t z = encode_word(0.0f, c.kind, c.step, &zero_saturated);
      v = decode_word(static_cast<uint16_t>((z & and_mask[i]) | or_mask[i]), c.kind, c.step);
      if (c.mode == FaultMode::Clip) v = clip_faulty_value(v, c.clip_bound);
    }
    master[i] = 0.0f;
    w_eff[i] = v;
    if (use_mom) buf[i] = 0.0f;
    return;
  }
  if (faulty && c.mode == FaultMode::Zero) {
    master[i] = 0.0f;
    w_eff[i] = 0.0f;
    if (use_mom) buf[i] = 0.0f;
    return;
  }
  if (faulty && c.mode == FaultMode::KeepWeight) {
    w_eff[i] = master[i];
    if (use_mom) buf[i] = 0.0f;
    return;
  }
  float g = grad[i];
  if (c.weight_decay != 0.0f) g = fmaf(c.weight_decay, master[i], g);
  if (use_mom) {
    const float b = first ? g : fmaf(c.momentum, buf[i], (1.0f - c.dampening) * g);
    buf[i] = b;
    g = c.nesterov ? fmaf(c.momentum, b, g) : b;
  }
  const float m = fmaf(-c.lr, g, master[i]);
  bool saturated = false;
  const uint16_t q = encode_word(m, c.kind, c.step, &saturated);
  const float d = decode_word(q, c.kind, c.step);
  if (!faulty || c.mode == FaultMode::None) {
    master[i] = m;
    w_eff[i] = d;
    return;
  }
  const float r = m - d;
  float v = decode_word(static_cast<uint16_t>((q & and_mask[i]) | or_mask[i]), c.kind, c.step);
  if (c.mode == FaultMode::Clip) v = clip_faulty_value(v, c.clip_bound);
  master[i] = v + r;
  w_eff[i] = v;
}

}  // namespace

void fault_sgd_update_cuda(float* master, float* w_eff, const float* grad, float* momentum_buf, const uint8_t* prune,
                           const uint16_t* and_mask, const uint16_t* or_mask, int64_t n, const FaultSgdConfig& c,
                           bool first_step) {
  if (n <= 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  fault_sgd_kernel<<<static_cast<unsigned>(blocks), kThreads>>>(master, w_eff, grad, momentum_buf, prune, and_mask,
                                                                 or_mask, n, c, first_step);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat
