// reshape/flatten: views of contiguous data whose gradient is the incoming gradient reshaped.
#include "framework/autograd.h"
#include "framework/ops.h"

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

}  // namespace stuckat
