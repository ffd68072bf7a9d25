// Element-wise activations on the CPU (the ONNX importer's Sigmoid, Tanh, LeakyRelu, HardSigmoid,
// HardSwish, Clip and Identity), forward and backward over n values. Two parameters a and b
// carry each function's constants:
//   Sigmoid      y = 1 / (1 + exp(-x))                 dx = dy * y * (1 - y)        (from y)
//   Tanh         y = tanh(x)                           dx = dy * (1 - y * y)        (from y)
//   LeakyRelu    y = x >= 0 ? x : a * x                dx = x > 0 ? dy : a * dy
//   HardSigmoid  y = max(0, min(1, a * x + b))         dx = 0 < a*x+b < 1 ? a * dy : 0
//   HardSwish    y = x * max(0, min(1, x / 6 + 1/2))   dx = x < -3 ? 0 : x <= 3 ? dy * (x/3 + 1/2) : dy
//   Clip         y = min(max(x, a), b)                 dx = a <= x <= b ? dy : 0
//   Identity     y = x                                 dx = dy
// The gradients at the kinks follow PyTorch. NaN passes through every forward (the clamps are
// written so that a NaN compares false and is kept).
#pragma once
#include <cstdint>

namespace stuckat::cpu {

enum class UnaryFn { Sigmoid, Tanh, LeakyRelu, HardSigmoid, HardSwish, Clip, Identity };

// Whether the backward reads x (true) or only the output y (Sigmoid, Tanh, Identity).
bool unary_backward_reads_input(UnaryFn fn);

// Reference loops (the test oracle), float and double.
template <typename T> void unary_forward_ref(UnaryFn fn, T a, T b, const T* x, T* y, int64_t n);
// x or y may be null where unary_backward_reads_input says it is not read.
template <typename T>
void unary_backward_ref(UnaryFn fn, T a, T b, const T* x, const T* y, const T* dy, T* dx, int64_t n);

// Fast float path: the same formulas, one function per loop so each vectorises, OpenMP over
// fixed chunks (each element is computed alone, so the thread count changes nothing).
void unary_forward(UnaryFn fn, float a, float b, const float* x, float* y, int64_t n);
void unary_backward(UnaryFn fn, float a, float b, const float* x, const float* y, const float* dy, float* dx,
                    int64_t n);

}  // namespace stuckat::cpu
