// Private to kernels/cpu: 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3)
// and F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016),
// the fast path conv2d.cpp tries first for the 3x3 layers of VGG and ResNet. Each m x m block of
// outputs comes from an (m + 2) x (m + 2) window of input as (m + 2)^2 products per channel pair
// instead of 9 m^2 (16 for 36 with 2x2 tiles, 36 for 144 with 4x4), so the bulk of the work
// becomes (m + 2)^2 GEMMs over the channels, one per position of the transformed tile.
// Layouts as in conv2d.h. Each function returns false, having written nothing, when it does not
// cover the shape: not 3x3 / stride 1 / pad <= 2, channel counts that are not a multiple of the
// vector width, planes too small to gain (2x2: the direct kernels already skip the taps that read
// padding), or a build without vectors or BLAS. The tiles go in chunks of images fixed by the
// shape, and every sum runs in an order fixed by the shape, so results do not depend on the
// thread count. Rounding differs from the direct kernels (the transforms add and subtract
// inputs before multiplying; the 4x4 tiles scale by up to 8 and 1/24 and so round more: about
// 6e-6 of the largest output against 4e-7 for 2x2 tiles, on values in [-1, 1] with 64..512
// channels), within the same tolerance against the double reference.
#pragma once
#include "kernels/cpu/conv2d.h"

namespace stuckat::cpu {

// y = conv2d(x, w) + b (b nullable), plus addend (nullable, shaped like y) when given. tile: 2
// or 4 for F(2x2, 3x3) or F(4x4, 3x3), 0 for the one with fewer products on this plane.
bool conv2d_forward_winograd(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s,
                             const float* addend, int tile = 0);

// dx (n, c_in, h, w), OVERWRITTEN: the convolution of dy padded by 2 - pad with the weights
// flipped in space and c_in / c_out swapped, through the same tiles.
bool conv2d_backward_dx_winograd(const float* w, const float* dy, float* dx, const Conv2dShape& s, int tile = 0);

// dw (c_out, c_in, 3, 3) and db (c_out, nullable), OVERWRITTEN: the adjoint of the forward's
// tiles, summed per position over the whole batch's tiles, then brought back to 3x3.
bool conv2d_backward_weights_winograd(const float* x, const float* dy, float* dw, float* db, const Conv2dShape& s);

}  // namespace stuckat::cpu
