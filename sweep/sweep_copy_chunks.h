// The units of the sweep on a model copy (sweep_copy_path.h): a chunk of one layer's points, what
// the chunks of a layer share, and an epoch of chunks that share device buffers. Internal to
// sweep_copy_path.cpp (launch, collect, emit) and sweep_copy_plan.cpp (the host's plan).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>

#include "sweep/block_scores.h"
#include "sweep/channel_delta.h"
#include "sweep/run_ahead.h"
#include "sweep/sweep_point.h"
#include "sweep/sweep_trace.h"
#include "framework/autograd.h"
#include "base/error.h"
#include "framework/ops.h"
#include "kernels/cuda/profile.h"
#include "kernels/cuda/queue_mark.h"

#include "sweep/sweep_copy_path.h"
#include "sweep/sweep_delta.h"
#include "sweep/weight_changes_op.h"

namespace stuckat::sweep::copy_path {

// A point of a stacked pass with at least one changed weight.
struct StackedPoint {
  int64_t slot = 0;   // its faulted weights: row `slot` of the chunk's weight stack
  bool full = false;  // many changes: the layer runs with its weights
  DeltaPoint plan;    // otherwise its changes (and, on the channel path, its channels)
};

// What the chunks of one layer share.
struct LayerGroup {
  std::string layer;
  WeightFormat resolved;
  Tensor original, quantized, words;  // CPU: the unquantized weights, the clean words decoded, the clean words
  Tensor words_dev, original_dev;     // the copy's device
  Tensor fwd_weight;
  int64_t n = 0;
  // Set by the first plan (they need the clean pass).
  bool planned = false;
  size_t s = 0;          // the stage its points start from
  bool stacked = false;  // stage s begins with the layer: points share passes
  // Every point on the channel path over all channels into a linear next layer: a pass's points
  // go through one relu_pool_channel_delta_stacked, one GEMM and one add_tiled_into.
  bool stacked_channels = false;
  DeltaLayer L;
  Tensor next_host;  // on the channel path, the next layer's weights on the host (if it is a faultable layer)
  LayerGeometry geometry;
  Conv2d* conv = nullptr;
  Linear* lin = nullptr;
  Shape wshape;  // (1, weight shape...)
  int64_t per_pass = 1;
};

struct Chunk {
  bool baseline = false;
  std::shared_ptr<LayerGroup> group;
  size_t first = 0, last = 0;  // indices into the points
  std::vector<FaultDraw> draws;
  int64_t counts_at = 0, bits_at = 0, scores_at = 0;  // its entries in the epoch's buffers
  Tensor stack, counts, bits;            // device (counts and bits: views of the epoch's)
  Tensor counts_host, bits_host;         // read back (views of the epoch's)
  std::vector<SweepRow> rows;            // planned (one per point), scored by emit
  std::vector<int64_t> used_of;          // per row: its entry in `used`, or -1 (scores as the baseline)
  std::vector<StackedPoint> used;
  std::vector<PackedChanges> packed;     // per used point: what add_weight_changes adds
  Tensor loss, hits;                     // [batch][used point] scores on the device (views of the epoch's)
  Tensor loss_host, hits_host;           // ... read back
  std::vector<PointScore> direct_scores;  // one-at-a-time chunks: scored as they run
  double trace_ms[StepTimes::kSteps] = {};  // STUCKAT_SWEEP_TRACE: host ms per step
  // ... of launch: the allocation of the stacked outputs, the points' outputs, the rest, the
  // scoring; the device allocations made meanwhile (count, host ms; the planning thread's too),
  // marks around its work
  double trace_alloc_ms = 0, trace_outputs_ms = 0, trace_rest_ms = 0, trace_scores_ms = 0;
  MallocStats trace_mallocs;
  UploadStats trace_uploads;  // the plan's
  cuda::QueueMark trace_start, trace_end;
};

// Changed weights in a chunk from which its plan rebuilds them on all threads (~0.4 ms on one).
constexpr int64_t kParallelPlanWork = 4096;

// Consecutive chunks whose counts, changed-weight bits and scores share one device buffer each,
// read back in one copy each.
struct Epoch {
  size_t first = 0, last = 0;  // chunks
  Tensor counts, bits, loss, hits;                         // device
  Tensor counts_host, bits_host, loss_host, hits_host;     // read back
  double trace_ms[StepTimes::kSteps] = {};  // STUCKAT_SWEEP_TRACE: host ms of its draw, read-back, collect
};

// Points per pass: at most `configs`, and as many as keep the stacked activations of stages s..
// (twice the largest per-batch tensor per point: a stage's input and output live together)
// within `bytes`.
inline int64_t points_per_pass(const CleanPass& clean, size_t s, int64_t configs, int64_t bytes) {
  int64_t largest = 1;
  for (size_t k = s; k < clean.input.size(); ++k) {
    if (clean.input[k].empty()) continue;  // no test batches
    for (const Tensor& t : {clean.input[k].front(), clean.layer_out[k].front()})
      if (t.defined()) largest = std::max<int64_t>(largest, static_cast<int64_t>(t.nbytes()));
  }
  return std::max<int64_t>(1, std::min<int64_t>(configs, bytes / (2 * largest)));
}

// Plans a chunk on the host (any thread): its layer group's stacked-pass set-up on first use,
// then each point's changed weights, channels and change list, uploaded in one copy (rows must
// already hold one row per point).
void plan_chunk(Chunk& c, const CopyModel& model, const CleanPass& clean, const SweepRunOptions& options);

}  // namespace stuckat::sweep::copy_path
