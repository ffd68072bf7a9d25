// Broadcast binary kernels. The plan's output dimensions of size 1 are dropped (they change no
// offset), and the rest go to the kernel by value as a Dims struct of at most 8 dimensions.
// Forward: one thread per output element (grid-stride). Backward: one thread per element of the
// input gradient; it fixes the output index in the dimensions where that input does not
// broadcast and walks the others (the last fastest), so it adds its terms in increasing output
// order, as kernels/cpu's reference does. Deterministic, no atomics.
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/broadcast_binary.h"

#include <algorithm>

namespace stuckat::cuda {
namespace {

using cpu::BinaryFn;

constexpr int kMaxRank = 8;
constexpr int64_t kMaxBlocks = 65535;

unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>(grid_for(n), kMaxBlocks)); }

struct Dims {
  int rank = 0;
  int64_t size[kMaxRank] = {};
  int64_t y_stride[kMaxRank] = {};  // the output is contiguous
  int64_t a_stride[kMaxRank] = {};  // 0 where a broadcasts
  int64_t b_stride[kMaxRank] = {};  // 0 where b broadcasts
};

Dims make_dims(const cpu::BroadcastPlan& p) {
  Dims d;
  int64_t acc = 1;
  std::vector<int> kept;
  for (size_t k = 0; k < p.out_shape.size(); ++k)
    if (p.out_shape[k] != 1) kept.push_back(static_cast<int>(k));
  STUCKAT_CHECK(kept.size() <= static_cast<size_t>(kMaxRank),
                "broadcast binary on CUDA: {} dimensions of size > 1, at most {} supported", kept.size(), kMaxRank);
  d.rank = static_cast<int>(kept.size());
  for (int r = d.rank; r-- > 0;) {
    const size_t k = static_cast<size_t>(kept[static_cast<size_t>(r)]);
    d.size[r] = p.out_shape[k];
    d.y_stride[r] = acc;
    d.a_stride[r] = p.a_strides[k];
    d.b_stride[r] = p.b_strides[k];
    acc *= p.out_shape[k];
  }
  return d;
}

// The formulas of kernels/cpu/broadcast_binary.h; products written unfused.
__device__ inline float value(BinaryFn fn, float a, float b) {
  switch (fn) {
    case BinaryFn::Add: return a + b;
    case BinaryFn::Sub: return a - b;
    case BinaryFn::Mul: return a * b;
    case BinaryFn::Div: return a / b;
  }
  return 0.0f;
}

__device__ inline float grad_a(BinaryFn fn, float dy, float, float b) {
  switch (fn) {
    case BinaryFn::Add: return dy;
    case BinaryFn::Sub: return dy;
    case BinaryFn::Mul: return dy * b;
    case BinaryFn::Div: return dy / b;
  }
  return 0.0f;
}

__device__ inline float grad_b(BinaryFn fn, float dy, float a, float b) {
  switch (fn) {
    case BinaryFn::Add: return dy;
    case BinaryFn::Sub: return -dy;
    case BinaryFn::Mul: return dy * a;
    case BinaryFn::Div: return -dy * ((a / b) / b);
  }
  return 0.0f;
}

__global__ void binary_forward_kernel(BinaryFn fn, const float* a, const float* b, float* y, Dims d, int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = global_index(); i < n; i += step) {
    int64_t rest = i, oa = 0, ob = 0;
    for (int r = d.rank; r-- > 0;) {
      const int64_t idx = rest % d.size[r];
      rest /= d.size[r];
      oa += idx * d.a_stride[r];
      ob += idx * d.b_stride[r];
    }
    y[i] = value(fn, a[oa], b[ob]);
  }
}

// The gradient of a (for_a) or b: element j of that input, contiguous of `numel` elements.
// `own` are that input's strides (0 where it broadcasts), `other` the other input's.
__global__ void binary_gradient_kernel(BinaryFn fn, bool for_a, const float* a, const float* b, const float* dy,
                                       float* out, Dims d, int64_t numel) {
  const bool reads = fn == BinaryFn::Mul || fn == BinaryFn::Div;
  const int64_t* own = for_a ? d.a_stride : d.b_stride;
  const int64_t* other = for_a ? d.b_stride : d.a_stride;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = global_index(); j < numel; j += step) {
    // The fixed part of the output and other-input offsets, and the count of broadcast positions.
    int64_t base_y = 0, base_other = 0, count = 1;
    for (int r = 0; r < d.rank; ++r) {
      if (own[r] == 0) {
        count *= d.size[r];
      } else {
        const int64_t idx = j / own[r] % d.size[r];
        base_y += idx * d.y_stride[r];
        base_other += idx * other[r];
      }
    }
    const float self = reads ? (for_a ? a[j] : b[j]) : 0.0f;
    float acc = 0.0f;
    for (int64_t k = 0; k < count; ++k) {
      int64_t rest = k, oy = base_y, oo = base_other;
      for (int r = d.rank; r-- > 0;) {
        if (own[r] != 0) continue;
        const int64_t idx = rest % d.size[r];
        rest /= d.size[r];
        oy += idx * d.y_stride[r];
        oo += idx * other[r];
      }
      const float o = reads ? (for_a ? b[oo] : a[oo]) : 0.0f;
      acc += for_a ? grad_a(fn, dy[oy], self, o) : grad_b(fn, dy[oy], o, self);
    }
    out[j] = acc;
  }
}

}  // namespace

void binary_forward(BinaryFn fn, const float* a, const float* b, float* y, const cpu::BroadcastPlan& p) {
  STUCKAT_GPU_PROFILE("binary.fwd");
  int64_t n = 1;  // p.out_numel(), which lives in the CPU library
  for (int64_t k : p.out_shape) n *= k;
  if (n == 0) return;
  binary_forward_kernel<<<blocks_for(n), kBlock>>>(fn, a, b, y, make_dims(p), n);
  CUDA_CHECK_LAUNCH();
}

void binary_backward(BinaryFn fn, const float* a, const float* b, const float* dy, float* da, float* db,
                     const cpu::BroadcastPlan& p) {
  STUCKAT_GPU_PROFILE("binary.bwd");
  const Dims d = make_dims(p);
  // With no output elements every gradient is 0: the loops below then add nothing.
  if (da && p.a_numel > 0) {
    binary_gradient_kernel<<<blocks_for(p.a_numel), kBlock>>>(fn, true, a, b, dy, da, d, p.a_numel);
    CUDA_CHECK_LAUNCH();
  }
  if (db && p.b_numel > 0) {
    binary_gradient_kernel<<<blocks_for(p.b_numel), kBlock>>>(fn, false, a, b, dy, db, d, p.b_numel);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace stuckat::cuda
