// The output change of a conv/linear layer when a few of its weights change: the layer is linear
// in its weights, so faulted_out = clean_out + layer(x, dW) with dW nonzero only at the changed
// weights. A sweep point changes ~rate * weights entries, so this costs a small fraction of the
// layer's forward pass. Each output element gets its deltas added in ascending weight order, so
// the result is the same for any thread count.
#pragma once
#include <cstdint>
#include <vector>

namespace stuckat::sweep {

struct WeightChange {
  int64_t index;  // flat index into the weight tensor (row-major)
  float delta;    // faulted - clean
};

// Entries where `faulted` and `clean` differ bit for bit, in ascending index order.
std::vector<WeightChange> weight_changes(const float* clean, const float* faulted, int64_t n);

// y: (n, out, ho, wo) += conv2d(x, dW) with x: (n, in, h, w), dW: (out, in, kh, kw) given by
// `changes`, zero padding `pad`, stride `stride`.
void add_conv2d_weight_changes(const float* x, float* y, int64_t n, int64_t in, int64_t h, int64_t w, int64_t out,
                               int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t ho, int64_t wo,
                               const std::vector<WeightChange>& changes);

// What follows a conv layer in a fused sweep point: ReLU and an optional max pool (pool_k = 0:
// none), in either order (ForwardStage::after_relu_pool).
struct ReluPoolChain {
  int64_t pool_k = 0, pool_stride = 1;
  bool pool_first = false;
};

// A stride-1 conv point through the ReLU / max-pool chain after it, per image and output channel
// in cache, without its faulted (n, out, ho, wo) output ever existing: for each of the `out`
// channels the changes touch, next[:, o] (n, out, ph, pw) becomes the chain of plane o of the
// clean output plus conv2d(x, dW); the other channels of next are left as they are (the caller
// fills them with the clean chain). Plane o of the clean output is channel channels[o] of
// clean_out (n, clean_channels, ho, wo), or channel o when `channels` is empty. The same additions
// in the same order as add_conv2d_weight_changes, then max_pool2d's and relu's rules: equal to
// that chain of ops. minus (nullable): the clean chain output (n, clean_channels, ph, pw); each
// written plane is then the chain's value less it (the change of the next stage's input).
void conv2d_changes_relu_pool(const float* x, const float* clean_out, int64_t clean_channels,
                              const std::vector<int64_t>& channels, float* next, int64_t n, int64_t in, int64_t h,
                              int64_t w, int64_t out, int64_t kh, int64_t kw, int64_t pad, int64_t ho, int64_t wo,
                              const ReluPoolChain& chain, const std::vector<WeightChange>& changes,
                              const float* minus = nullptr);

// y: (n, out) += x dW^T with x: (n, in), dW: (out, in) given by `changes`.
void add_linear_weight_changes(const float* x, float* y, int64_t n, int64_t in, int64_t out,
                               const std::vector<WeightChange>& changes);

}  // namespace stuckat::sweep
