// Cross-entropy kernels: one thread per row (k is the number of classes, small), then one block
// sums the row losses in a fixed order, so the loss does not depend on scheduling.
#include <limits>

#include "kernels/cuda/profile.h"
#include "kernels/cuda/cross_entropy.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/scratch.h"

namespace stuckat::cuda {
namespace {

__global__ void ce_rows_kernel(const float* logits, const int32_t* labels, float* probs, float* row_loss, int64_t n,
                               int64_t k) {
  const int64_t r = global_index();
  if (r >= n) return;
  const float* row = logits + r * k;
  float max = row[0];
  for (int64_t j = 1; j < k; ++j) max = max < row[j] ? row[j] : max;  // std::max's rule, NaN included
  float sum = 0.0f;
  for (int64_t j = 0; j < k; ++j) sum += expf(row[j] - max);
  for (int64_t j = 0; j < k; ++j) probs[r * k + j] = expf(row[j] - max) / sum;
  const int32_t label = labels[r];
  row_loss[r] = label >= 0 && label < k ? max + logf(sum) - row[label] : __int_as_float(0x7fc00000);
}

// One block: thread t sums rows t, t + kBlock, ... in order, then the block adds the threads'
// sums in a fixed tree, so the loss is the same on every run. (One thread summing 10^4 rows
// alone took a quarter of a millisecond: more than the whole LeNet-5 head of a sweep point.)
__global__ void ce_mean_kernel(const float* row_loss, int64_t n, float* loss) {
  float part = 0.0f;
  for (int64_t r = threadIdx.x; r < n; r += blockDim.x) part += row_loss[r];
  const float total = block_sum(part);
  if (threadIdx.x == 0) *loss = total / static_cast<float>(n);
}

__global__ void ce_backward_kernel(const float* probs, const int32_t* labels, float dloss, float* dlogits, int64_t n,
                                   int64_t k) {
  const int64_t i = global_index();
  if (i >= n * k) return;
  const int64_t r = i / k, j = i % k;
  const float onehot = j == labels[r] ? 1.0f : 0.0f;
  dlogits[i] = dloss * (probs[i] - onehot) / static_cast<float>(n);
}

__global__ void correct_kernel(const float* logits, const int32_t* labels, int64_t n, int64_t k,
                               unsigned long long* correct) {
  const int64_t r = global_index();
  if (r >= n) return;
  const float* row = logits + r * k;
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (row[j] > row[best]) best = j;  // strict: the first maximum wins a tie, as on the CPU
  if (best == labels[r]) atomicAdd(correct, 1ull);
}

}  // namespace

float cross_entropy_forward(const float* logits, const int32_t* labels, float* probs, int64_t n, int64_t k) {
  STUCKAT_GPU_PROFILE("cross_entropy.fwd");
  if (n == 0) return std::numeric_limits<float>::quiet_NaN();  // mean of nothing, as the CPU's 0/0
  float* buf = static_cast<float*>(scratch(static_cast<size_t>(n + 1) * sizeof(float)));
  ce_rows_kernel<<<grid_for(n), kBlock>>>(logits, labels, probs, buf + 1, n, k);
  CUDA_CHECK_LAUNCH();
  ce_mean_kernel<<<1, kBlock>>>(buf + 1, n, buf);
  CUDA_CHECK_LAUNCH();
  float loss = 0.0f;
  CUDA_CHECK(cudaMemcpy(&loss, buf, sizeof(float), cudaMemcpyDeviceToHost));
  return loss;
}

void cross_entropy_backward(const float* probs, const int32_t* labels, float dloss, float* dlogits, int64_t n,
                            int64_t k) {
  STUCKAT_GPU_PROFILE("cross_entropy.bwd");
  if (n * k == 0) return;
  ce_backward_kernel<<<grid_for(n * k), kBlock>>>(probs, labels, dloss, dlogits, n, k);
  CUDA_CHECK_LAUNCH();
}

int64_t count_correct(const float* logits, const int32_t* labels, int64_t n, int64_t k) {
  STUCKAT_GPU_PROFILE("count_correct");
  if (n == 0) return 0;
  auto* counter = static_cast<unsigned long long*>(scratch(sizeof(unsigned long long)));
  CUDA_CHECK(cudaMemsetAsync(counter, 0, sizeof(unsigned long long)));
  correct_kernel<<<grid_for(n), kBlock>>>(logits, labels, n, k, counter);
  CUDA_CHECK_LAUNCH();
  unsigned long long host = 0;
  CUDA_CHECK(cudaMemcpy(&host, counter, sizeof host, cudaMemcpyDeviceToHost));
  return static_cast<int64_t>(host);
}

}  // namespace stuckat::cuda
