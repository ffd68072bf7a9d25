// reshape/flatten: views of contiguous data whose gradient is the incoming gradient reshaped;
// select_index: a copying gather without gradient; slice_rows: a view of leading rows.
#include <algorithm>
#include <cstring>

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "kernels/cuda/select_blocks.h"

namespace stuckat {
namespace {

struct ReshapeBackward : Node {
  Shape in_shape;
  const char* name() const override { return "ReshapeBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {dy.contiguous().view(in_shape)}; }
};

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor y = x.contiguous().view(shape);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ReshapeBackward>();
    node->in_shape = x.shape();
    connect(y, node, {&x});
  }
  return y;
}

Tensor flatten(const Tensor& x, int64_t start_dim) {
  STUCKAT_CHECK(start_dim >= 0 && start_dim < x.dim(), "flatten: start_dim {} for shape {}", start_dim,
                shape_str(x.shape()));
  Shape s(x.shape().begin(), x.shape().begin() + start_dim);
  s.push_back(-1);
  if (x.numel() == 0) s.back() = 0;
  return reshape(x, s);
}

Tensor select_index(const Tensor& x_in, int64_t dim, const std::vector<int64_t>& index) {
  STUCKAT_CHECK(x_in.dtype() == DType::F32, "select_index: needs an f32 tensor");
  STUCKAT_CHECK(dim >= 0 && dim <= 1 && dim < x_in.dim(), "select_index: dim {} of shape {}", dim,
                shape_str(x_in.shape()));
  STUCKAT_CHECK(!any_requires_grad({&x_in}), "select_index has no gradient");
  const Tensor x = x_in.contiguous();
  const int64_t outer = dim == 0 ? 1 : x.size(0), extent = x.size(dim);
  const int64_t block = dim == 0 ? x.numel() / std::max<int64_t>(1, extent) : x.numel() / std::max<int64_t>(1, outer * extent);
  for (int64_t i : index) STUCKAT_CHECK(i >= 0 && i < extent, "select_index: index {} out of [0, {})", i, extent);
  Shape shape = x.shape();
  shape[static_cast<size_t>(dim)] = static_cast<int64_t>(index.size());
  Tensor y = Tensor::empty(shape, DType::F32, x.device());
  const float* src = x.data<float>();
  float* dst = y.data<float>();
  const int64_t k = static_cast<int64_t>(index.size());
  if (x.device() == Device::CUDA) {
    Tensor index_dev;  // long lists go through device memory; short ones in the kernel's arguments
    if (k > cuda::kInlineIndices) {
      std::vector<int32_t> narrow(index.begin(), index.end());
      index_dev = Tensor::from_vector(narrow, {k}).to(Device::CUDA);
    }
    cuda::select_blocks_f32(src, outer, extent, block, index.data(),
                            index_dev.defined() ? index_dev.data<int32_t>() : nullptr, k, dst);
    return y;
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < k; ++j)
      std::memcpy(dst + (o * k + j) * block, src + (o * extent + index[static_cast<size_t>(j)]) * block,
                  static_cast<size_t>(block) * sizeof(float));
  return y;
}

Tensor slice_rows(const Tensor& x, int64_t begin, int64_t end) {
  STUCKAT_CHECK(x.defined() && x.dim() >= 1 && x.is_contiguous(), "slice_rows: needs a contiguous tensor with a first dimension");
  STUCKAT_CHECK(0 <= begin && begin <= end && end <= x.size(0), "slice_rows: rows [{}, {}) of shape {}", begin, end,
                shape_str(x.shape()));
  STUCKAT_CHECK(!any_requires_grad({&x}), "slice_rows has no gradient");
  auto impl = std::make_shared<TensorImpl>(*x.impl());
  impl->autograd = AutogradMeta{};
  impl->offset += begin * (x.size(0) > 0 ? x.numel() / x.size(0) : 0);
  impl->shape[0] = end - begin;
  impl->strides = contiguous_strides(impl->shape);
  return TensorImpl::wrap(impl);
}

}  // namespace stuckat
