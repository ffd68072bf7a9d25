// Private to kernels/cpu: direct (implicit-GEMM) convolution in AVX-512 or AVX2 vectors
// (simd.h), the fast path conv2d.cpp
// tries before lowering with im2col. No column matrix is built: each image is copied once into
// zero-padded planes and the kernels read taps straight from them, with the accumulators in
// registers. Layouts as in conv2d.h. Each function returns false, having written nothing, when
// it does not cover the shape (stride other than 1 or 2, a build with neither, ...), and
// the caller then takes the im2col path. Every output element is summed in a fixed tap order,
// so results do not depend on the thread count.
#pragma once
#include "kernels/cpu/conv2d.h"

namespace stuckat::cpu {

// One image's planes x (c, h, w) into dst (c, h + 2*pad_h, w + 2*pad_w), zero around them.
void pad_planes(const float* x, int64_t c, int64_t h, int64_t w, int64_t pad_h, int64_t pad_w, float* dst);

// y = conv2d(x, w) + b for the whole batch; b may be nullptr; addend (nullable, shaped like y) is
// added to each image's output as soon as it is computed.
bool conv2d_forward_direct(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s,
                           const float* addend = nullptr);

// dx (n, c_in, h, w), OVERWRITTEN. Stride 1 only: dx is then the convolution of dy, padded by
// (kh-1-pad, kw-1-pad), with the weights flipped in space and c_in/c_out swapped.
bool conv2d_backward_dx_direct(const float* w, const float* dy, float* dx, const Conv2dShape& s);

// dw (c_out, c_in, kh, kw) and db (c_out, nullable), OVERWRITTEN. Stride 1, kw <= 7, and a
// thread's share of the batch small enough to stay in L2 (LeNet-sized layers); with AVX2, not
// the shapes whose output channels fill the lanes better than the output width (LeNet conv2),
// which conv2d_backward_weights_tiled serves better. Partial sums per thread are reduced in
// thread order: bit-reproducible for a fixed thread count.
bool conv2d_backward_weights_direct(const float* x, const float* dy, float* dw, float* db, const Conv2dShape& s);

// dw and db (nullable), OVERWRITTEN, for any stride and padding (conv2d_weight_tiles.cpp): the
// batch's pixels are the inner dimension of register tiles over (channels, taps); for the layers
// conv2d_backward_weights_direct leaves (too large, or channels that fill the lanes better). Each element is summed pixel by pixel in batch order,
// so the result does not depend on the thread count.
bool conv2d_backward_weights_tiled(const float* x, const float* dy, float* dw, float* db, const Conv2dShape& s);

}  // namespace stuckat::cpu
