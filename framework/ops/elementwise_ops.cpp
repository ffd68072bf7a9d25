// unary (the ONNX activations) and binary (broadcast Add/Sub/Mul/Div) ops and their autograd
// nodes, on the CPU and on CUDA (kernels/cuda/unary_ops.h, broadcast_binary.h). Sigmoid and Tanh
// keep only their output for the backward; the others keep their input.
#include "framework/ops/elementwise_ops.h"

#include "framework/autograd.h"
#include "framework/ops/op_checks.h"
#include "kernels/cpu/broadcast_binary.h"
#include "kernels/cpu/relu.h"
#include "kernels/cpu/unary_ops.h"
#include "kernels/cuda/broadcast_binary.h"
#include "kernels/cuda/relu.h"
#include "kernels/cuda/unary_ops.h"

namespace stuckat {
namespace {
using namespace ops_detail;

cpu::UnaryFn unary_fn(UnaryOp op) {
  switch (op) {
    case UnaryOp::Sigmoid: return cpu::UnaryFn::Sigmoid;
    case UnaryOp::Tanh: return cpu::UnaryFn::Tanh;
    case UnaryOp::LeakyRelu: return cpu::UnaryFn::LeakyRelu;
    case UnaryOp::HardSigmoid: return cpu::UnaryFn::HardSigmoid;
    case UnaryOp::HardSwish: return cpu::UnaryFn::HardSwish;
    case UnaryOp::Clip: return cpu::UnaryFn::Clip;
    case UnaryOp::Identity: return cpu::UnaryFn::Identity;
  }
  STUCKAT_CHECK(false, "unary: unknown op {}", static_cast<int>(op));
  return cpu::UnaryFn::Identity;
}

cpu::BinaryFn binary_fn(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return cpu::BinaryFn::Add;
    case BinaryOp::Sub: return cpu::BinaryFn::Sub;
    case BinaryOp::Mul: return cpu::BinaryFn::Mul;
    case BinaryOp::Div: return cpu::BinaryFn::Div;
  }
  STUCKAT_CHECK(false, "binary: unknown op {}", static_cast<int>(op));
  return cpu::BinaryFn::Add;
}

// The names errors give: the ONNX operator each value stands for, in lower case.
const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::LeakyRelu: return "leaky_relu";
    case UnaryOp::HardSigmoid: return "hard_sigmoid";
    case UnaryOp::HardSwish: return "hard_swish";
    case UnaryOp::Clip: return "clip";
    case UnaryOp::Identity: return "identity";
  }
  return "unary";
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "?";
}

// Whether input i of this node was connected as needing a gradient.
bool input_needs_grad(const Node& node, size_t i) { return node.next[i].fn || node.next[i].leaf; }

const float* data_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

struct UnaryBackward : Node {
  cpu::UnaryFn fn = cpu::UnaryFn::Identity;
  float a = 0.0f, b = 0.0f;
  Tensor x, y;  // x when the backward reads it, else y (contiguous, detached)
  const char* name() const override { return "UnaryBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(dy.shape(), DType::F32, dy.device());
    if (dy.device() == Device::CUDA) {
      cuda::unary_backward(fn, a, b, data_or_null(x), data_or_null(y), dy.data<float>(), dx.data<float>(), dx.numel());
    } else {
      cpu::unary_backward(fn, a, b, data_or_null(x), data_or_null(y), dy.data<float>(), dx.data<float>(), dx.numel());
    }
    return {dx};
  }
};

struct BinaryBackward : Node {
  cpu::BinaryFn fn = cpu::BinaryFn::Add;
  cpu::BroadcastPlan plan;
  Shape a_shape, b_shape;
  Tensor a, b;  // for Mul and Div only (contiguous, detached)
  const char* name() const override { return "BinaryBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    const bool need_a = input_needs_grad(*this, 0), need_b = input_needs_grad(*this, 1);
    // An input of the output's shape takes dy itself where its gradient is dy (as AddBackward
    // does; accumulation never writes into a gradient in place).
    const bool a_is_dy = need_a && a_shape == plan.out_shape && (fn == cpu::BinaryFn::Add || fn == cpu::BinaryFn::Sub);
    const bool b_is_dy = need_b && b_shape == plan.out_shape && fn == cpu::BinaryFn::Add;
    Tensor da = need_a && !a_is_dy ? Tensor::empty(a_shape, DType::F32, dy.device()) : Tensor();
    Tensor db = need_b && !b_is_dy ? Tensor::empty(b_shape, DType::F32, dy.device()) : Tensor();
    float* da_p = da.defined() ? da.data<float>() : nullptr;
    float* db_p = db.defined() ? db.data<float>() : nullptr;
    if (da_p || db_p) {
      if (dy.device() == Device::CUDA)
        cuda::binary_backward(fn, data_or_null(a), data_or_null(b), dy.data<float>(), da_p, db_p, plan);
      else
        cpu::binary_backward(fn, data_or_null(a), data_or_null(b), dy.data<float>(), da_p, db_p, plan);
    }
    return {a_is_dy ? dy : da, b_is_dy ? dy : db};
  }
};

}  // namespace

Tensor unary(const Tensor& x_in, UnaryOp op, float a, float b) {
  const char* name = unary_name(op);
  require_f32(name, "input", x_in);
  const cpu::UnaryFn fn = unary_fn(op);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  if (x.device() == Device::CUDA) {
    cuda::unary_forward(fn, a, b, x.data<float>(), y.data<float>(), x.numel());
  } else {
    cpu::unary_forward(fn, a, b, x.data<float>(), y.data<float>(), x.numel());
  }
  if (any_requires_grad({&x_in})) {
    auto node = std::make_shared<UnaryBackward>();
    node->fn = fn;
    node->a = a;
    node->b = b;
    if (cpu::unary_backward_reads_input(fn))
      node->x = x.detach();
    else if (fn != cpu::UnaryFn::Identity)
      node->y = y.detach();
    connect(y, node, {&x_in});
  }
  return y;
}

void unary_in_place(Tensor& x, UnaryOp op, float a, float b) {
  const char* name = unary_name(op);
  require_f32(name, "input", x);
  STUCKAT_CHECK(x.is_contiguous() && !x.requires_grad(), "{} in place needs a contiguous tensor outside autograd", name);
  const cpu::UnaryFn fn = unary_fn(op);
  if (x.device() == Device::CUDA) {
    cuda::unary_forward(fn, a, b, x.data<float>(), x.data<float>(), x.numel());
  } else {
    cpu::unary_forward(fn, a, b, x.data<float>(), x.data<float>(), x.numel());
  }
}

void relu_in_place(Tensor& x) {
  require_f32("relu", "input", x);
  STUCKAT_CHECK(x.is_contiguous() && !x.requires_grad(), "relu in place needs a contiguous tensor outside autograd");
  if (x.device() == Device::CUDA) {
    cuda::relu_forward(x.data<float>(), x.data<float>(), x.numel());
  } else {
    cpu::relu_forward(x.data<float>(), x.data<float>(), x.numel());
  }
}

Tensor binary(const Tensor& a_in, const Tensor& b_in, BinaryOp op) {
  const char* name = binary_name(op);
  require_f32(name, "a", a_in);
  require_f32(name, "b", b_in);
  require_same_device(name, a_in, b_in);
  cpu::BroadcastPlan plan;
  STUCKAT_CHECK(cpu::plan_broadcast(a_in.shape(), b_in.shape(), &plan), "{}: shapes {} and {} do not broadcast", name,
                shape_str(a_in.shape()), shape_str(b_in.shape()));
  const cpu::BinaryFn fn = binary_fn(op);
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor y = Tensor::empty(plan.out_shape, DType::F32, a.device());
  if (a.device() == Device::CUDA) {
    cuda::binary_forward(fn, a.data<float>(), b.data<float>(), y.data<float>(), plan);
  } else {
    cpu::binary_forward(fn, a.data<float>(), b.data<float>(), y.data<float>(), plan);
  }
  if (any_requires_grad({&a_in, &b_in})) {
    auto node = std::make_shared<BinaryBackward>();
    node->fn = fn;
    node->a_shape = a.shape();
    node->b_shape = b.shape();
    if (op == BinaryOp::Mul || op == BinaryOp::Div) {
      node->a = a.detach();
      node->b = b.detach();
    }
    node->plan = std::move(plan);
    connect(y, node, {&a_in, &b_in});
  }
  return y;
}

}  // namespace stuckat
