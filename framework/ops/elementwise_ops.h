// Element-wise activations, broadcast arithmetic and softmax, as the ONNX importer needs them, on
// the CPU and on CUDA. Every error of these ops starts with the op's name: sigmoid, tanh,
// leaky_relu, hard_sigmoid, hard_swish, clip, identity, add, sub, mul, div, softmax or
// log_softmax. All have autograd.
// Kernels: kernels/cpu/unary_ops.h, broadcast_binary.h, softmax.h and their kernels/cuda twins.
#pragma once
#include "framework/tensor.h"

namespace stuckat {

enum class UnaryOp { Sigmoid, Tanh, LeakyRelu, HardSigmoid, HardSwish, Clip, Identity };
// y = f(x) element-wise. LeakyRelu: x >= 0 ? x : a*x (a = alpha). HardSigmoid: max(0, min(1, a*x + b))
// (ONNX defaults a=0.2, b=0.5 are the caller's business). HardSwish: x * max(0, min(1, x/6 + 1/2)).
// Clip: min(max(x, a), b) (a = lower, b = upper; the caller passes -inf/+inf for absent bounds).
// NaN passes through every forward. Gradients follow PyTorch at the kinks: Clip 1 where
// a <= x <= b, else 0; LeakyRelu x > 0 ? 1 : alpha; HardSigmoid a where 0 < a*x+b < 1, else 0;
// HardSwish x < -3 ? 0 : x <= 3 ? x/3 + 0.5 : 1. Identity returns a copy.
Tensor unary(const Tensor& x, UnaryOp op, float a = 0.0f, float b = 0.0f);
// The same values written over x (f32, contiguous, no autograd: inference on a value nothing
// else reads; the kernels read each element before writing it).
void unary_in_place(Tensor& x, UnaryOp op, float a = 0.0f, float b = 0.0f);
void relu_in_place(Tensor& x);

enum class BinaryOp { Add, Sub, Mul, Div };
// Numpy / ONNX multidirectional broadcasting of any ranks (shapes aligned at the right; a size-1 or
// missing dimension broadcasts). Gradients are summed back to each input's shape (in a fixed order,
// independent of the thread count). Either input may be a constant (requires_grad false).
Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op);

// Softmax (or log-softmax when log) over one axis (negative counts from the end), max-shifted.
Tensor softmax(const Tensor& x, int64_t axis, bool log);

}  // namespace stuckat
