// Element-wise activations on the CPU: the reference loops (test oracle, one switch per element)
// and the fast float path (the switch hoisted out of the loop, OpenMP over fixed chunks). The
// clamps are written as `v < lo ? lo : v > hi ? hi : v` so a NaN input comes out as NaN (as in
// PyTorch) instead of being clamped to a bound by std::min / std::max.
#include "kernels/cpu/unary_ops.h"

#include <cmath>

namespace stuckat::cpu {
namespace {
// Below this many elements an OpenMP fork costs more than the loop itself.
constexpr int64_t kParallelMinElements = 1 << 15;
// Each OpenMP task covers one fixed chunk of elements.
constexpr int64_t kChunk = 1 << 13;

template <typename T> T clamp_keep_nan(T v, T lo, T hi) {
  const T t = v < lo ? lo : v;
  return t > hi ? hi : t;
}

// The fast path's functions, one struct per UnaryFn with the same formulas as the reference.
struct SigmoidF {
  static float fwd(float x, float, float) { return 1.0f / (1.0f + std::exp(-x)); }
  static float bwd(float, float y, float dy, float, float) { return dy * y * (1.0f - y); }
};
struct TanhF {
  static float fwd(float x, float, float) { return std::tanh(x); }
  static float bwd(float, float y, float dy, float, float) { return dy * (1.0f - y * y); }
};
struct LeakyReluF {
  static float fwd(float x, float a, float) { return x >= 0.0f ? x : a * x; }
  static float bwd(float x, float, float dy, float a, float) { return x > 0.0f ? dy : a * dy; }
};
struct HardSigmoidF {
  static float fwd(float x, float a, float b) { return clamp_keep_nan(a * x + b, 0.0f, 1.0f); }
  static float bwd(float x, float, float dy, float a, float b) {
    const float v = a * x + b;
    return v > 0.0f && v < 1.0f ? a * dy : 0.0f;
  }
};
struct HardSwishF {
  static float fwd(float x, float, float) { return x * clamp_keep_nan(x / 6.0f + 0.5f, 0.0f, 1.0f); }
  static float bwd(float x, float, float dy, float, float) {
    return x < -3.0f ? 0.0f : x <= 3.0f ? dy * (x / 3.0f + 0.5f) : dy;
  }
};
struct ClipF {
  static float fwd(float x, float a, float b) { return clamp_keep_nan(x, a, b); }
  static float bwd(float x, float, float dy, float a, float b) { return x >= a && x <= b ? dy : 0.0f; }
};
struct IdentityF {
  static float fwd(float x, float, float) { return x; }
  static float bwd(float, float, float dy, float, float) { return dy; }
};

// Runs body(begin, end) over fixed chunks of [0, n), in parallel when n is large.
template <typename Body> void for_chunks(int64_t n, const Body& body) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n >= kParallelMinElements)
  for (int64_t c = 0; c < chunks; ++c) body(c * kChunk, c + 1 == chunks ? n : (c + 1) * kChunk);
}

template <typename F> void forward_loop(float a, float b, const float* x, float* y, int64_t n) {
  for_chunks(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = F::fwd(x[i], a, b);
  });
}

// x or y may be null when F does not read it: the loop then passes 0.
template <typename F>
void backward_loop(float a, float b, const float* x, const float* y, const float* dy, float* dx, int64_t n) {
  for_chunks(n, [&](int64_t begin, int64_t end) {
    if (x && y) {
      for (int64_t i = begin; i < end; ++i) dx[i] = F::bwd(x[i], y[i], dy[i], a, b);
    } else if (x) {
      for (int64_t i = begin; i < end; ++i) dx[i] = F::bwd(x[i], 0.0f, dy[i], a, b);
    } else if (y) {
      for (int64_t i = begin; i < end; ++i) dx[i] = F::bwd(0.0f, y[i], dy[i], a, b);
    } else {
      for (int64_t i = begin; i < end; ++i) dx[i] = F::bwd(0.0f, 0.0f, dy[i], a, b);
    }
  });
}
}  // namespace

bool unary_backward_reads_input(UnaryFn fn) {
  return fn != UnaryFn::Sigmoid && fn != UnaryFn::Tanh && fn != UnaryFn::Identity;
}

template <typename T> void unary_forward_ref(UnaryFn fn, T a, T b, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    switch (fn) {
      case UnaryFn::Sigmoid: y[i] = T(1) / (T(1) + std::exp(-v)); break;
      case UnaryFn::Tanh: y[i] = std::tanh(v); break;
      case UnaryFn::LeakyRelu: y[i] = v >= T(0) ? v : a * v; break;
      case UnaryFn::HardSigmoid: y[i] = clamp_keep_nan(a * v + b, T(0), T(1)); break;
      case UnaryFn::HardSwish: y[i] = v * clamp_keep_nan(v / T(6) + T(0.5), T(0), T(1)); break;
      case UnaryFn::Clip: y[i] = clamp_keep_nan(v, a, b); break;
      case UnaryFn::Identity: y[i] = v; break;
    }
  }
}

template <typename T>
void unary_backward_ref(UnaryFn fn, T a, T b, const T* x, const T* y, const T* dy, T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T g = dy[i];
    switch (fn) {
      case UnaryFn::Sigmoid: dx[i] = g * y[i] * (T(1) - y[i]); break;
      case UnaryFn::Tanh: dx[i] = g * (T(1) - y[i] * y[i]); break;
      case UnaryFn::LeakyRelu: dx[i] = x[i] > T(0) ? g : a * g; break;
      case UnaryFn::HardSigmoid: {
        const T v = a * x[i] + b;
        dx[i] = v > T(0) && v < T(1) ? a * g : T(0);
        break;
      }
      case UnaryFn::HardSwish: dx[i] = x[i] < T(-3) ? T(0) : x[i] <= T(3) ? g * (x[i] / T(3) + T(0.5)) : g; break;
      case UnaryFn::Clip: dx[i] = x[i] >= a && x[i] <= b ? g : T(0); break;
      case UnaryFn::Identity: dx[i] = g; break;
    }
  }
}

template void unary_forward_ref<float>(UnaryFn, float, float, const float*, float*, int64_t);
template void unary_forward_ref<double>(UnaryFn, double, double, const double*, double*, int64_t);
template void unary_backward_ref<float>(UnaryFn, float, float, const float*, const float*, const float*, float*,
                                        int64_t);
template void unary_backward_ref<double>(UnaryFn, double, double, const double*, const double*, const double*,
                                         double*, int64_t);

void unary_forward(UnaryFn fn, float a, float b, const float* x, float* y, int64_t n) {
  switch (fn) {
    case UnaryFn::Sigmoid: return forward_loop<SigmoidF>(a, b, x, y, n);
    case UnaryFn::Tanh: return forward_loop<TanhF>(a, b, x, y, n);
    case UnaryFn::LeakyRelu: return forward_loop<LeakyReluF>(a, b, x, y, n);
    case UnaryFn::HardSigmoid: return forward_loop<HardSigmoidF>(a, b, x, y, n);
    case UnaryFn::HardSwish: return forward_loop<HardSwishF>(a, b, x, y, n);
    case UnaryFn::Clip: return forward_loop<ClipF>(a, b, x, y, n);
    case UnaryFn::Identity: return forward_loop<IdentityF>(a, b, x, y, n);
  }
}

void unary_backward(UnaryFn fn, float a, float b, const float* x, const float* y, const float* dy, float* dx,
                    int64_t n) {
  switch (fn) {
    case UnaryFn::Sigmoid: return backward_loop<SigmoidF>(a, b, nullptr, y, dy, dx, n);
    case UnaryFn::Tanh: return backward_loop<TanhF>(a, b, nullptr, y, dy, dx, n);
    case UnaryFn::LeakyRelu: return backward_loop<LeakyReluF>(a, b, x, nullptr, dy, dx, n);
    case UnaryFn::HardSigmoid: return backward_loop<HardSigmoidF>(a, b, x, nullptr, dy, dx, n);
    case UnaryFn::HardSwish: return backward_loop<HardSwishF>(a, b, x, nullptr, dy, dx, n);
    case UnaryFn::Clip: return backward_loop<ClipF>(a, b, x, nullptr, dy, dx, n);
    case UnaryFn::Identity: return backward_loop<IdentityF>(a, b, nullptr, nullptr, dy, dx, n);
  }
}

}  // namespace stuckat::cpu
