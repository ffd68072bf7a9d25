// Softmax cross-entropy (mean over the batch) and accuracy counting.
#include "kernels/cpu/cross_entropy.h"

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "kernels/cuda/cross_entropy.h"

namespace stuckat {
namespace {
using namespace ops_detail;

struct CrossEntropyBackward : Node {
  Tensor probs, labels;
  const char* name() const override { return "CrossEntropyBackward"; }
  std::vector<Tensor> backward(const Tensor& dloss) override {
    Tensor dlogits = Tensor::empty(probs.shape(), DType::F32, probs.device());
    const float d = dloss.item();
    if (probs.device() == Device::CUDA) {
      cuda::cross_entropy_backward(probs.data<float>(), labels.data<int32_t>(), d, dlogits.data<float>(), probs.size(0),
                                   probs.size(1));
    } else {
      cpu::cross_entropy_backward(probs.data<float>(), labels.data<int32_t>(), d, dlogits.data<float>(), probs.size(0),
                                  probs.size(1));
    }
    return {dlogits};
  }
};

void check_labels(const char* op, const Tensor& logits, const Tensor& labels) {
  require_f32(op, "logits", logits);
  require_dim(op, "logits", logits, 2);
  STUCKAT_CHECK(labels.defined() && labels.dtype() == DType::I32 && labels.dim() == 1 &&
                    labels.size(0) == logits.size(0),
                "{}: labels must be i32 of shape ({},), got {} {}", op, logits.size(0),
                labels.defined() ? dtype_name(labels.dtype()) : "undefined",
                labels.defined() ? shape_str(labels.shape()) : "");
  require_same_device(op, logits, labels);
  if (labels.device() == Device::CPU) {
    const int32_t* l = labels.contiguous().data<int32_t>();
    for (int64_t i = 0; i < labels.numel(); ++i)
      STUCKAT_CHECK(l[i] >= 0 && l[i] < logits.size(1), "{}: label {} out of range [0, {})", op, l[i], logits.size(1));
  }
}

}  // namespace

Tensor cross_entropy(const Tensor& logits_in, const Tensor& labels_in) {
  check_labels("cross_entropy", logits_in, labels_in);
  Tensor logits = logits_in.contiguous(), labels = labels_in.contiguous();
  Tensor probs = Tensor::empty(logits.shape(), DType::F32, logits.device());
  float loss = 0;
  if (logits.device() == Device::CUDA) {
    loss = cuda::cross_entropy_forward(logits.data<float>(), labels.data<int32_t>(), probs.data<float>(),
                                       logits.size(0), logits.size(1));
  } else {
    loss = cpu::cross_entropy_forward(logits.data<float>(), labels.data<int32_t>(), probs.data<float>(),
                                      logits.size(0), logits.size(1));
  }
  Tensor out = Tensor::full({}, loss, logits.device());
  if (any_requires_grad({&logits_in})) {
    auto node = std::make_shared<CrossEntropyBackward>();
    node->probs = probs;
    node->labels = labels;
    connect(out, node, {&logits_in});
  }
  return out;
}

int64_t count_correct(const Tensor& logits_in, const Tensor& labels_in) {
  check_labels("count_correct", logits_in, labels_in);
  Tensor logits = logits_in.contiguous(), labels = labels_in.contiguous();
  if (logits.device() == Device::CUDA) {
    return cuda::count_correct(logits.data<float>(), labels.data<int32_t>(), logits.size(0), logits.size(1));
  }
  return cpu::count_correct(logits.data<float>(), labels.data<int32_t>(), logits.size(0), logits.size(1));
}

}  // namespace stuckat
