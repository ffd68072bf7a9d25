// Scores of stacked sweep points in one pass: logits (P*n, k) hold P blocks of n rows, each block
// one point's predictions for the same n labelled images. For every block: the sum of the rows'
// softmax cross-entropy losses and the number of rows whose first maximum is the label. One
// kernel and one read-back per pass on the GPU, instead of a loss and a count (and two
// read-backs) per point. The row rules are the cross_entropy and count_correct ops' (a label
// outside [0, k) gives a NaN loss).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "base/host_device.h"
#include "framework/tensor.h"

namespace stuckat::sweep {

struct BlockScore {
  double loss_sum = 0;  // sum of the block's row losses
  int64_t correct = 0;
};

// One row: its loss, and whether its first maximum is the label.
STUCKAT_HD inline float row_loss(const float* row, int64_t k, int32_t label, bool* correct) {
  float max = row[0];
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j) {
    if (row[j] > row[best]) best = j;            // strict: the first maximum wins a tie
    max = max < row[j] ? row[j] : max;           // std::max's rule, NaN included
  }
  float sum = 0.0f;
  for (int64_t j = 0; j < k; ++j) sum += expf(row[j] - max);
  *correct = best == label;
  return label >= 0 && label < k ? max + logf(sum) - row[label] : NAN;
}

// logits: (blocks * n, k) f32, labels: (n) i32, on one device; returns `blocks` scores (host).
std::vector<BlockScore> block_scores(const Tensor& logits, const Tensor& labels, int64_t blocks);

// block_scores without the read-back: the loss sums go to `loss` (F32, `blocks` contiguous
// entries) and the hits to `correct` (I64, likewise), on the logits' device, so a caller scoring
// many passes on the GPU reads them all back in one copy.
void block_scores_into(const Tensor& logits, const Tensor& labels, int64_t blocks, const Tensor& loss,
                       const Tensor& correct);

}  // namespace stuckat::sweep
