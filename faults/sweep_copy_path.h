// The sweep on a separate copy of the model (SweepRunOptions::device_model, normally on the GPU;
// on the CPU in tests): the points of one format run through it in chunks of a layer's points,
// pipelined so that the device rarely waits for the host.
//
// A chunk (up to all of a layer's points, as many as a weight stack of SweepRunOptions::chunk_bytes
// holds, at least configs_per_pass):
//   draw       each point's faulted weights into a row of the stack, on the device (fault_layer_into,
//              from the layer's clean words: the counter-based masks are the same on any device),
//              with its fault counts and one bit per weight (changed or not);
//   read back  the counts and bits, one copy each (waits for the queue);
//   plan       (host) each point's changed weights rebuilt from the draw (changed_weights), its
//              channels (the channel path) and its change list; all lists go up in one copy, which
//              does not wait for the queue;
//   launch     passes of up to points_per_pass points of the chunk: each point's layer output (the
//              cached clean output plus its changes, or the layer run with its weights when it
//              changed more than 1/kDeltaFraction of them; on the channel path the next layer's
//              output; where every point takes it into a linear layer, all of them in three
//              launches: relu_pool_channel_delta_stacked, one GEMM, add_tiled_into), stacked
//              along the batch, then the rest of the network once and one block_scores per batch
//              into device memory;
//   collect    the scores read back, one copy each;
//   emit       rows out in order.
// Order: draw and read back chunks 0 and 1, queue the clean pass, plan chunk 0 (while the clean
// pass runs), then for each chunk i: collect i - 1 (done: the last read-back waited for it; a
// copy to the host waits for all the work queued before it, so it must come before launch i),
// launch i, emit i - 1, plan i + 1 (while i runs), draw and read back i + 2 (waiting for i). The
// device then idles only between a read-back and the next launch. Every wait is a copy to the
// host, so the order changes the overlap, never a result. STUCKAT_SWEEP_TRACE=1 prints the host
// time of each step per chunk.
// A layer whose stage does not begin with it (its activations were not cached) runs one point at
// a time, writing the copy's weights. A point whose faults change no word scores as the baseline.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "faults/sweep_runner.h"
#include "faults/sweep_stages.h"

namespace stuckat::sweep {

// The model copy's view of the faultable layers, for one format.
struct CopyModel {
  std::vector<ForwardStage> stages;          // of the copy
  std::map<std::string, size_t> stage_of;    // layer -> the stage that reads it
  std::map<std::string, Tensor> original;    // layer -> its unquantized weights (CPU)
  std::map<std::string, Tensor> quantized;   // layer -> its clean words decoded (CPU)
  std::map<std::string, Tensor> fwd_weight;  // layer -> the copy's weight parameter
};

// Runs points[first, last) (ascending grid indices of one format, baseline rows included) on the
// copy, whose weights hold the format's clean words; rows go to on_row in order.
void run_copy_points(const CopyModel& model, const SweepGrid& grid, const std::vector<int64_t>& points, size_t first,
                     size_t last, const std::string& model_name, const TestBatches& batches,
                     const SweepRunOptions& options, const std::function<void(const SweepRow&)>& on_row);

}  // namespace stuckat::sweep
