// Differentiable tensor operations. Each dispatches on the input's device to the kernels in
// kernels/cpu (or kernels/cuda) and, when an input requires gradients, records a Node.
// Shapes follow PyTorch: images are (n, c, h, w), weights (out, in, kh, kw) and (out, in).
#pragma once
#include <vector>

#include "framework/tensor.h"

namespace stuckat {

// x: (n, c_in, h, w), w: (c_out, c_in, kh, kw), b: (c_out) or undefined.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t pad);
// x: (n, in), w: (out, in), b: (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);
Tensor relu(const Tensor& x);
Tensor max_pool2d(const Tensor& x, int64_t k, int64_t stride);
// max_pool2d(relu(x), k, stride) (pool_first: relu(max_pool2d(x, k, stride))), the same values
// and gradients; on the CPU one pass with no intermediate tensor (with gradients: pool_first
// only, one backward node), else the two ops.
Tensor relu_max_pool2d(const Tensor& x, int64_t k, int64_t stride, bool pool_first);
Tensor avg_pool2d(const Tensor& x, int64_t k, int64_t stride);
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t oh, int64_t ow);
// x: (n, c) or (n, c, h, w). In training mode uses batch statistics and updates the running
// buffers in place; in eval mode uses the running buffers.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, float momentum, float eps);
Tensor add(const Tensor& a, const Tensor& b);  // same shape
// Differentiable reshape (a view when contiguous); one dimension may be -1.
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 1);
// logits: (n, k), labels: (n) int32. Mean softmax cross-entropy, a one-element f32 tensor.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);
// Number of rows of logits whose first maximum equals the label (no gradient).
int64_t count_correct(const Tensor& logits, const Tensor& labels);

// Non-differentiable helpers used by autograd and optimisers.
void add_inplace(Tensor& dst, const Tensor& src);  // dst += src, same shape and device
void sub_inplace(Tensor& dst, const Tensor& src);  // dst -= src, same shape and device
// out = a + b, same shape and device; out contiguous (a slice_rows view of a larger tensor, say).
void add_into(Tensor& out, const Tensor& a, const Tensor& b);
// out = b + tile repeated along out's elements (tile.numel() divides out.numel(); out may be b):
// stacked blocks of a sweep pass plus their shared clean values. Not differentiable.
void add_tiled_into(Tensor& out, const Tensor& tile, const Tensor& b);
// Entries `index` along dimension `dim` (0 or 1) of an f32 tensor, in the given order:
// select_index(x, 1, {4, 0}) of an (n, c, h, w) x is (n, 2, h, w) holding channels 4 and 0.
// No gradient (inference paths such as fault sweeps).
Tensor select_index(const Tensor& x, int64_t dim, const std::vector<int64_t>& index);
// Rows [begin, end) of dimension 0 of a contiguous tensor: a view of the same storage (no copy,
// no gradient), on any device.
Tensor slice_rows(const Tensor& x, int64_t begin, int64_t end);
// One input through P weight sets at once, for fault sweeps (no gradient), on any device:
// conv2d_multi: x (n, c_in, h, w), w (P, c_out, c_in, kh, kw), b (c_out) or undefined ->
// (P*n, c_out, h_out, w_out); linear_multi: x (n, in), w (P, out, in), b (out) -> (P*n, out).
// Rows [p*n, (p+1)*n) are exactly conv2d(x, w[p], b) (linear(x, w[p], b)).
// out = addend + conv2d(x, w, no bias), no gradient (a fault sweep's next-layer output from a
// channel difference, addend its clean output); out (n, c_out, h_out, w_out) contiguous, e.g. a
// slice_rows view. The addend is read where the sum is written on the GPU, and image by image
// while the image's output is in cache on the CPU (one pass over memory fewer either way).
void conv2d_add_into(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& addend, int64_t stride, int64_t pad);
Tensor conv2d_multi(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t pad);
Tensor linear_multi(const Tensor& x, const Tensor& w, const Tensor& b);

}  // namespace stuckat
