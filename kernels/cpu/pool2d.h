// Pooling on the CPU: max and average over k x k windows (no padding, floor mode, like
// PyTorch's defaults), and adaptive average pooling to (oh, ow) with PyTorch's bin edges
// start = floor(i*h/oh), end = ceil((i+1)*h/oh).
//   x: (n, c, h, w)  y: (n, c, h_out, w_out)
// max_pool2d records, per output, the flat index (within its (h, w) plane) of the max input;
// ties take the first in row-major window order. Backward overwrites dx.
#pragma once
#include <cstdint>

namespace stuckat::cpu {

struct Pool2dShape {
  int64_t n, c, h, w, k, stride;
  int64_t h_out() const { return (h - k) / stride + 1; }
  int64_t w_out() const { return (w - k) / stride + 1; }
};

struct AdaptivePool2dShape {
  int64_t n, c, h, w, oh, ow;
};

template <typename T> void max_pool2d_forward_ref(const T* x, T* y, int32_t* argmax, const Pool2dShape& s);
template <typename T> void max_pool2d_backward_ref(const T* dy, const int32_t* argmax, T* dx, const Pool2dShape& s);
template <typename T> void avg_pool2d_forward_ref(const T* x, T* y, const Pool2dShape& s);
template <typename T> void avg_pool2d_backward_ref(const T* dy, T* dx, const Pool2dShape& s);
template <typename T> void adaptive_avg_pool2d_forward_ref(const T* x, T* y, const AdaptivePool2dShape& s);
template <typename T> void adaptive_avg_pool2d_backward_ref(const T* dy, T* dx, const AdaptivePool2dShape& s);

// argmax may be null (inference without gradients): then only the values are written.
void max_pool2d_forward(const float* x, float* y, int32_t* argmax, const Pool2dShape& s);
// One plane of the 2x2 stride-2 max pool, values only, on the calling thread: x has rows of w
// floats (at least 2 * ho of them, w >= 2 * wo); y receives ho x wo outputs, rows wo apart. The
// same kernel and rules as max_pool2d_forward. relu_first: the inputs go through ReLU first
// (relu_max_pool2d_forward's values).
void max_pool_2x2_plane(const float* x, float* y, int64_t w, int64_t ho, int64_t wo, bool relu_first = false);
// Inference's ReLU and max pool in one pass, values only: relu_forward then max_pool2d_forward
// (pool_first: the other way round), bit for bit, without the intermediate tensor.
void relu_max_pool2d_forward(const float* x, float* y, const Pool2dShape& s, bool pool_first);
void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, const Pool2dShape& s);
// Training's max pool then ReLU in one pass: y = relu(max_pool2d(x)) bit for bit, and the pool's
// argmax where y > 0, -1 where ReLU passes no gradient (y zero, negative or NaN). Its backward
// is relu_backward then max_pool2d_backward, bit for bit: zeros, plus dy[o] at argmax[o] for
// every argmax[o] >= 0.
void max_pool2d_relu_forward(const float* x, float* y, int32_t* argmax, const Pool2dShape& s);
void max_pool2d_relu_backward(const float* dy, const int32_t* argmax, float* dx, const Pool2dShape& s);
void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s);
void avg_pool2d_backward(const float* dy, float* dx, const Pool2dShape& s);
void adaptive_avg_pool2d_forward(const float* x, float* y, const AdaptivePool2dShape& s);
void adaptive_avg_pool2d_backward(const float* dy, float* dx, const AdaptivePool2dShape& s);

}  // namespace stuckat::cpu
