// The sweep's untimed warm-up (sweep_warm_up.h).
#include "sweep/sweep_warm_up.h"

#include <algorithm>
#include <vector>

#include "sweep/block_scores.h"
#include "framework/autograd.h"
#include "base/error.h"
#include "framework/ops.h"
#include "sweep/cuda/block_scores_cuda.h"
#include "sweep/cuda/channel_delta_cuda.h"
#include "sweep/cuda/sweep_delta_cuda.h"
#include "sweep/cuda/sweep_point_cuda.h"
#include "kernels/cuda/add.h"
#include "kernels/cuda/select_blocks.h"

namespace stuckat::sweep {

void preload_sweep_kernels() {
  if constexpr (!kCudaBackend) return;
  preload_fault_layer_kernels();
  preload_block_scores_kernels();
  preload_channel_delta_kernels();
  preload_sweep_delta_kernels();
  cuda::preload_add_kernels();
  cuda::preload_select_blocks_kernels();
}

int64_t warm_up_sweep(const Dataset& test, const SweepRunOptions& options) {
  STUCKAT_CHECK(options.device_model != nullptr, "warm_up_sweep: no model copy in the options");
  STUCKAT_CHECK(options.batch >= 1 && options.configs_per_pass >= 1, "sweep batch and configs per pass must be >= 1");
  Module& model = *options.device_model;
  for (const auto& [name, p] : model.named_parameters())
    if (p.device() == Device::CUDA) {
      preload_sweep_kernels();
      break;
    }
  if (test.size() == 0) return 1;
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const int64_t n = std::min(options.batch, test.size());
  const Tensor batch = slice_rows(test.images, 0, n);
  const Tensor labels = slice_rows(test.labels, 0, n);
  // The largest tensor a stage reads, or its layer writes, for one batch: a pass of P points holds
  // about twice P of them (a stage's input and output), as the sweep counts them over the stages
  // of a first-layer point (a deeper layer's passes may hold more, up to configs_per_pass).
  int64_t largest = 1;
  Tensor x = batch;
  for (const ForwardStage& st : model.forward_stages()) {
    largest = std::max<int64_t>(largest, static_cast<int64_t>(x.nbytes()));
    if (st.layer && st.after) {
      const Tensor y = st.layer->forward(x);
      largest = std::max<int64_t>(largest, static_cast<int64_t>(y.nbytes()));
      x = st.after(y);
    } else {
      x = st.run(x);
    }
  }
  const int64_t points = std::max<int64_t>(1, std::min(options.configs_per_pass, options.pass_bytes / (2 * largest)));
  if (points > 1) {
    Shape shape = batch.shape();
    shape[0] = n * points;
    Tensor stacked = Tensor::empty(shape, DType::F32, batch.device());
    for (int64_t p = 0; p < points; ++p) {
      Tensor block = slice_rows(stacked, p * n, (p + 1) * n);
      block.copy_(batch);
    }
    x = model.forward(stacked);
  }
  block_scores(x, labels, points);  // reads the scores back: the work is done on return
  model.train(was_training);
  return points;
}

}  // namespace stuckat::sweep
