// Private to kernels/cpu: lowering one image to the column matrix that turns conv2d into a
// GEMM, and the scatter-add back (col2im) for the input gradient.
//   x: (c_in, h, w) of ONE image     col: (c_in*kh*kw, h_out*w_out), row r = (ci, ky, kx)
// Out-of-image taps (padding) read as 0 in im2col and are dropped by col2im.
#pragma once
#include "kernels/cpu/conv2d.h"

namespace stuckat::cpu {

void im2col(const float* x, float* col, const Conv2dShape& s);
// dx (c_in, h, w) is OVERWRITTEN with the sum of every column entry that read each pixel.
void col2im(const float* col, float* dx, const Conv2dShape& s);

}  // namespace stuckat::cpu
