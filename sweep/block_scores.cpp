// block_scores (block_scores.h): a CPU loop per block, or the CUDA kernel.
#include "sweep/block_scores.h"

#include "base/error.h"
#include "kernels/cuda/profile.h"
#include "sweep/cuda/block_scores_cuda.h"

namespace stuckat::sweep {

void block_scores_into(const Tensor& logits_in, const Tensor& labels_in, int64_t blocks, const Tensor& loss,
                       const Tensor& correct) {
  STUCKAT_CHECK(logits_in.dtype() == DType::F32 && logits_in.dim() == 2 && labels_in.dtype() == DType::I32 &&
                    labels_in.dim() == 1 && logits_in.device() == labels_in.device(),
                "block_scores: logits (m, k) f32 and labels (n) i32 on one device");
  STUCKAT_CHECK(blocks >= 1 && logits_in.size(0) == blocks * labels_in.size(0) && logits_in.size(1) >= 1,
                "block_scores: {} logit rows for {} blocks of {} labels", logits_in.size(0), blocks, labels_in.size(0));
  STUCKAT_CHECK(loss.dtype() == DType::F32 && correct.dtype() == DType::I64 && loss.numel() == blocks &&
                    correct.numel() == blocks && loss.is_contiguous() && correct.is_contiguous() &&
                    loss.device() == logits_in.device() && correct.device() == logits_in.device(),
                "block_scores: {} f32 loss and i64 hit entries on the logits' device", blocks);
  const Tensor logits = logits_in.contiguous(), labels = labels_in.contiguous();
  const int64_t n = labels.size(0), k = logits.size(1);
  if (logits.device() == Device::CUDA) {
    STUCKAT_GPU_PROFILE("sweep.block_scores");
    STUCKAT_CHECK(n < (int64_t{1} << 24), "block_scores: {} rows per block; the GPU path takes fewer than 2^24", n);
    block_scores_cuda(logits.data<float>(), labels.data<int32_t>(), blocks, n, k, loss.data<float>(),
                      correct.data<int64_t>());
    return;
  }
  const float* x = logits.data<float>();
  const int32_t* y = labels.data<int32_t>();
  auto* loss_out = loss.data<float>();
  auto* correct_out = correct.data<int64_t>();
  for (int64_t p = 0; p < blocks; ++p) {
    float sum = 0.0f;  // float, as the GPU sums
    int64_t hits = 0;
    for (int64_t r = 0; r < n; ++r) {
      bool ok;
      sum += row_loss(x + (p * n + r) * k, k, y[r], &ok);
      hits += ok ? 1 : 0;
    }
    loss_out[p] = sum;
    correct_out[p] = hits;
  }
}

std::vector<BlockScore> block_scores(const Tensor& logits, const Tensor& labels, int64_t blocks) {
  STUCKAT_CHECK(blocks >= 1, "block_scores: {} blocks", blocks);
  const Tensor loss = Tensor::empty({blocks}, DType::F32, logits.device());
  const Tensor correct = Tensor::empty({blocks}, DType::I64, logits.device());
  block_scores_into(logits, labels, blocks, loss, correct);
  const Tensor loss_host = loss.to(Device::CPU), correct_host = correct.to(Device::CPU);
  std::vector<BlockScore> out(static_cast<size_t>(blocks));
  for (int64_t p = 0; p < blocks; ++p)
    out[static_cast<size_t>(p)] = {static_cast<double>(loss_host.data<float>()[p]),
                                   static_cast<const int64_t*>(correct_host.raw_data())[p]};
  return out;
}

}  // namespace stuckat::sweep
