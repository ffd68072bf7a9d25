// The sweep on a separate copy of the model (SweepRunOptions::device_model, normally on the GPU;
// on the CPU in tests): the points of one format run through it in chunks of a layer's points,
// pipelined so that the device rarely waits for the host.
//
// A chunk (up to all of a layer's points, as many as a weight stack of SweepRunOptions::chunk_bytes
// holds, at least configs_per_pass):
//   draw       each point's faulted weights into a row of the stack, on the device (fault_layer_into,
//              from the layer's clean words: the counter-based masks are the same on any device),
//              with its fault counts and one bit per weight (changed or not);
//   read back  the counts and bits (one copy each for an epoch's chunks; waits for the queue);
//   plan       (host) each point's changed weights rebuilt from the draw (changed_weights), its
//              channels (the channel path: the next layer's weights on them are selected from the
//              host copy of its decoded clean words when it is faultable) and its change list; all lists go up
//              in one copy, the selected weights in another; neither waits for the queue;
//   launch     passes of up to points_per_pass points of the chunk: each point's layer output (the
//              cached clean output plus its changes, or the layer run with its weights when it
//              changed more than 1/kDeltaFraction of them; on the channel path the next layer's
//              output; where every point takes it into a linear layer, all of them in three
//              launches: relu_pool_channel_delta_stacked, one GEMM, add_tiled_into), stacked
//              along the batch, then the rest of the network once and one block_scores per batch
//              into device memory;
//   collect    the scores read back (one copy each for an epoch's chunks);
//   emit       rows out in order.
// Order: chunks go in epochs, runs of chunks whose weight stacks fit 2 * chunk_bytes together (all
// of a 100-point LeNet-5 sweep's). For each epoch: draw its chunks, read back their counts and
// bits (the one wait: for the draws and the previous epoch's passes), queue the clean pass (first
// epoch), collect and emit the previous epoch's chunks (finished by then), then launch its chunks
// in turn while a second host thread plans them ahead (RunAhead): the device runs chunk i while
// the host launches it and plans chunk i + 1, and nothing waits for the device until the next
// epoch's read-back (a copy to the host waits for all the work queued before it).
// Every wait is a copy to the host, so the order changes the overlap, never a result.
// STUCKAT_SWEEP_TRACE=1 prints the host time of each step per chunk and epoch, the device
// allocations of a chunk's launch, and (on the GPU, from events that add no wait) the device's time
// on a chunk's passes and since the previous chunk's.
// A layer whose stage does not begin with it (its activations were not cached) runs one point at
// a time, writing the copy's weights. A point whose faults change no word scores as the baseline.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sweep/sweep_copy_model.h"
#include "sweep/sweep_runner.h"
#include "sweep/sweep_stages.h"

namespace stuckat::sweep {

// Runs points[first, last) (ascending grid indices of one format, baseline rows included) on the
// copy, whose weights hold the format's clean words; rows go to on_row in order.
void run_copy_points(const CopyModel& model, const SweepGrid& grid, const std::vector<int64_t>& points, size_t first,
                     size_t last, const std::string& model_name, const TestBatches& batches,
                     const SweepRunOptions& options, const std::function<void(const SweepRow&)>& on_row);

}  // namespace stuckat::sweep
