// ReLU on the CPU: the plain reference loops (test oracle) and the fast float path used in
// training. NaN passes through the forward (as in PyTorch), so a diverging run shows up in the
// loss instead of being silently clamped to 0.
#include "kernels/cpu/relu.h"

namespace stuckat::cpu {
namespace {
// Below this many elements an OpenMP fork costs more than the loop itself.
constexpr int64_t kParallelMinElements = 1 << 16;
}  // namespace

template <typename T>
void relu_forward_ref(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] < T(0) ? T(0) : x[i];
}

template <typename T>
void relu_backward_ref(const T* y, const T* dy, T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

template void relu_forward_ref<float>(const float*, float*, int64_t);
template void relu_forward_ref<double>(const double*, double*, int64_t);
template void relu_backward_ref<float>(const float*, const float*, float*, int64_t);
template void relu_backward_ref<double>(const double*, const double*, double*, int64_t);

void relu_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace stuckat::cpu
