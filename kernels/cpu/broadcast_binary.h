// Add, Sub, Mul, Div of two contiguous tensors under numpy / ONNX multidirectional broadcasting
// on the CPU: the shape rule, the forward, and the backward that sums an output gradient back
// to each input's shape.
//
// Broadcasting aligns the shapes at the right; in each dimension the sizes must be equal or one
// of them 1 (a missing dimension counts as 1), and the output takes the other size. An input is
// then read with stride 0 along the dimensions it broadcasts.
//
// Gradients, with y = a op b:  Add: da = dy, db = dy;  Sub: da = dy, db = -dy;
//   Mul: da = dy * b, db = dy * a;  Div: da = dy / b, db = -dy * ((a / b) / b)  (PyTorch's form).
// Each is summed over the dimensions where that input broadcasts. Every input gradient element
// adds its terms in increasing output index order, in the reference and the fast path alike,
// except a gradient reduced to a single element, which the fast path sums in fixed pieces
// (chosen from the shape alone); so no result depends on the thread count.
#pragma once
#include <cstdint>
#include <vector>

namespace stuckat::cpu {

enum class BinaryFn { Add, Sub, Mul, Div };

struct BroadcastPlan {
  std::vector<int64_t> out_shape;
  std::vector<int64_t> a_strides, b_strides;  // per output dimension, in elements; 0 where broadcast
  int64_t a_numel = 1, b_numel = 1;
  int64_t out_numel() const;
};

// The plan for inputs of these shapes; false (plan untouched) when they do not broadcast.
bool plan_broadcast(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape, BroadcastPlan* plan);

// Reference loops (the test oracle), float and double: one multi-index per output element.
template <typename T> void binary_forward_ref(BinaryFn fn, const T* a, const T* b, T* y, const BroadcastPlan& p);
// da or db may be null (that input needs no gradient); a and b are read for Mul and Div only.
template <typename T>
void binary_backward_ref(BinaryFn fn, const T* a, const T* b, const T* dy, T* da, T* db, const BroadcastPlan& p);
// The sum of g (output shaped) over the dimensions where `strides` (a plan's a_ or b_strides)
// is 0, into `out` of `out_numel` elements.
template <typename T>
void reduce_to_input_ref(const T* g, T* out, int64_t out_numel, const std::vector<int64_t>& strides,
                         const BroadcastPlan& p);

// Fast float path. Dimensions that neither input splits are merged first, so the common cases
// (same shapes, a scalar operand, a (1, c, 1, 1) per-channel operand against (n, c, h, w)) run
// as a few long rows with unit or zero strides; OpenMP over pieces of one dimension.
void binary_forward(BinaryFn fn, const float* a, const float* b, float* y, const BroadcastPlan& p);
void binary_backward(BinaryFn fn, const float* a, const float* b, const float* dy, float* da, float* db,
                     const BroadcastPlan& p);

}  // namespace stuckat::cpu
