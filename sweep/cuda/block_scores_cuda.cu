// block_scores_cuda (block_scores_cuda.h): grid = one block per point; thread t takes rows t,
// t + kBlock, ... of it, then the block adds the threads' sums in a fixed tree.
#include "sweep/block_scores.h"
#include "sweep/cuda/block_scores_cuda.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/preload.cuh"
#include "kernels/cuda/launch.cuh"

namespace stuckat::sweep {
namespace {

__global__ void block_scores_kernel(const float* logits, const int32_t* labels, int64_t n, int64_t k, float* loss,
                                    int64_t* correct) {
  const int64_t p = blockIdx.x;
  float part = 0.0f;
  float count = 0.0f;
  for (int64_t r = threadIdx.x; r < n; r += blockDim.x) {
    bool ok;
    part += row_loss(logits + (p * n + r) * k, k, labels[r], &ok);
    count += ok ? 1.0f : 0.0f;
  }
  const float total = cuda::block_sum(part);
  const float hits = cuda::block_sum(count);  // integers below 2^24: exact
  if (threadIdx.x == 0) {
    loss[p] = total;
    correct[p] = static_cast<int64_t>(hits);
  }
}

}  // namespace

void block_scores_cuda(const float* logits, const int32_t* labels, int64_t blocks, int64_t n, int64_t k, float* loss,
                       int64_t* correct) {
  if (blocks == 0) return;
  block_scores_kernel<<<static_cast<unsigned>(blocks), cuda::kBlock>>>(logits, labels, n, k, loss, correct);
  CUDA_CHECK_LAUNCH();
}

void preload_block_scores_kernels() { cuda::preload_kernel(block_scores_kernel); }

}  // namespace stuckat::sweep
