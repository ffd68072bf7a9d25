// The sweep on a model copy, chunked and pipelined (sweep_copy_path.h).
#include "sweep/sweep_copy_path.h"

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

namespace stuckat::sweep {
namespace {

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
int64_t points_per_pass(const CleanPass& clean, size_t s, int64_t configs, int64_t bytes) {
  int64_t largest = 1;
  for (size_t k = s; k < clean.input.size(); ++k) {
    if (clean.input[k].empty()) continue;  // no test batches
    for (const Tensor& t : {clean.input[k].front(), clean.layer_out[k].front()})
      if (t.defined()) largest = std::max<int64_t>(largest, static_cast<int64_t>(t.nbytes()));
  }
  return std::max<int64_t>(1, std::min<int64_t>(configs, bytes / (2 * largest)));
}

class Pipeline {
 public:
  Pipeline(const CopyModel& model, const SweepGrid& grid, const std::vector<int64_t>& points,
           const std::string& model_name, const TestBatches& batches, const SweepRunOptions& options,
           const std::function<void(const SweepRow&)>& on_row)
      : model_(model), grid_(grid), points_(points), model_name_(model_name), batches_(batches), options_(options),
        on_row_(on_row) {}

  void run(size_t first, size_t last) {
    if (times_.on() && !model_.layers.empty() && model_.layers.begin()->second.fwd_weight.device() == Device::CUDA)
      trace_last_end_.record();  // the first chunk's "since" starts here
    const auto t_split = std::chrono::steady_clock::now();
    std::vector<Chunk> chunks = split(first, last);
    if (times_.on())
      std::fprintf(stderr, "sweep trace: points split into %zu chunks in %.3f ms (host)\n", chunks.size(),
                   std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_split).count());
    const size_t count = chunks.size();
    auto plan_ = [&](Chunk& c) {
      const auto t = times_.time(StepTimes::kPlan, c.trace_ms);
      const UploadStats before = times_.on() ? upload_stats() : UploadStats();
      plan(c);
      if (times_.on()) c.trace_uploads = upload_stats() - before;
    };
    auto launch_ = [&](Chunk& c) {
      const auto t = times_.time(StepTimes::kLaunch, c.trace_ms);
      const bool marks = times_.on() && !c.baseline && c.group->fwd_weight.device() == Device::CUDA;
      const MallocStats before = times_.on() ? malloc_stats() : MallocStats();
      if (marks) c.trace_start.record();
      launch(c);
      if (marks) c.trace_end.record();
      if (times_.on()) c.trace_mallocs = malloc_stats() - before;
    };
    auto emit_ = [&](Chunk& c) {
      {
        const auto t = times_.time(StepTimes::kEmit, c.trace_ms);
        emit(c);
      }
      if (times_.on() && !c.baseline) {
        // The device's time on the chunk's passes and its idle time (or draws) since the last
        // chunk's: the epoch's collect already waited for both marks.
        const double span = c.trace_end.ms_since(c.trace_start), gap = c.trace_start.ms_since(trace_last_end_);
        std::fprintf(stderr,
                     "sweep trace: chunk %s, %zu points (%zu changed a weight): plan %.3f (%lld uploads %.3f, of which "
                     "staging waits %.3f; launch waited for it %.3f) launch "
                     "%.3f (allocation %.3f, outputs %.3f, rest %.3f, scores %.3f; %lld device mallocs %.3f) emit "
                     "%.3f ms; device %.3f ms on its passes, %.3f ms since the last chunk's\n",
                     c.group->layer.c_str(), c.last - c.first, c.used.size(), c.trace_ms[StepTimes::kPlan],
                     c.trace_uploads.count, c.trace_uploads.ms, c.trace_uploads.waited_ms,
                     c.trace_ms[StepTimes::kPlanWait], c.trace_ms[StepTimes::kLaunch], c.trace_alloc_ms,
                     c.trace_outputs_ms, c.trace_rest_ms, c.trace_scores_ms, c.trace_mallocs.count,
                     c.trace_mallocs.ms, c.trace_ms[StepTimes::kEmit], span, gap);
        if (c.trace_end.recorded()) trace_last_end_ = std::move(c.trace_end);
      }
      c = Chunk();  // its device memory goes back now
    };
    // Epochs: runs of chunks whose weight stacks fit 2 * chunk_bytes together (at least one
    // chunk). Per epoch: draw its chunks and read their counts and bits back (one wait: for the
    // draws and the previous epoch's passes), collect and emit the previous epoch's chunks (done
    // by then), then launch its chunks in turn while a second host thread plans them ahead (the
    // device runs chunk i while the host launches it and plans i + 1). Nothing waits for the
    // device inside an epoch: a copy to the host would wait for all the work queued before it.
    Epoch previous;
    bool cleaned = false;
    auto finish = [&](Epoch& e) {
      if (e.first == e.last) return;
      {
        const auto t = times_.time(StepTimes::kCollect, e.trace_ms);
        collect(e, chunks);
      }
      if (times_.on())
        std::fprintf(stderr, "sweep trace: epoch of chunks %zu-%zu: draw %.3f read back %.3f collect %.3f ms\n", e.first,
                     e.last - 1, e.trace_ms[StepTimes::kDraw], e.trace_ms[StepTimes::kReadBack],
                     e.trace_ms[StepTimes::kCollect]);
      for (size_t k = e.first; k < e.last; ++k) emit_(chunks[k]);
      if (options_.rows_done) options_.rows_done();
      e = Epoch();  // its device memory goes back now
    };
    for (size_t e0 = 0; e0 < count;) {
      Epoch e;
      e.first = e0;
      e.last = e0;
      int64_t bytes = 0;
      while (e.last < count && (e.last == e0 || bytes + stack_bytes(chunks[e.last]) <= 2 * options_.chunk_bytes))
        bytes += stack_bytes(chunks[e.last++]);
      {
        const auto t = times_.time(StepTimes::kDraw, e.trace_ms);
        draw(e, chunks);
      }
      {
        const auto t = times_.time(StepTimes::kReadBack, e.trace_ms);
        read_back(e, chunks);
      }
      if (!cleaned) {
        const auto t = times_.time(StepTimes::kCleanPass);
        STUCKAT_GPU_PROFILE("sweep.clean_pass");
        clean_ = clean_pass(model_.stages, batches_, options_.prefix_cache_bytes, true);
        cleaned = true;
      }
      finish(previous);
      {
        RunAhead ahead(e.first, e.last, [&](size_t k) {
          NoGradGuard no_grad;  // thread-local: the planning thread's own
          plan_(chunks[k]);
        });
        for (size_t k = e.first; k < e.last; ++k) {
          {
            const auto t = times_.time(StepTimes::kPlanWait, chunks[k].trace_ms);
            ahead.ready(k);
          }
          launch_(chunks[k]);
        }
      }
      previous = std::move(e);
      e0 = previous.last;
    }
    finish(previous);
  }

 private:
  // Chunks: each baseline row alone, each layer's consecutive points in chunks of a stack's worth.
  std::vector<Chunk> split(size_t first, size_t last) {
    std::vector<Chunk> chunks;
    size_t g = first;
    while (g < last) {
      const SweepPoint p = sweep_point(grid_, points_[g]);
      if (p.baseline) {
        Chunk c;
        c.baseline = true;
        c.first = g, c.last = g + 1;
        chunks.push_back(std::move(c));
        ++g;
        continue;
      }
      size_t end = g + 1;
      while (end < last) {
        const SweepPoint q = sweep_point(grid_, points_[end]);
        if (q.baseline || q.layer != p.layer) break;
        ++end;
      }
      const std::shared_ptr<LayerGroup> group = layer_group(p);
      const int64_t per_chunk =
          std::max(options_.configs_per_pass, options_.chunk_bytes / std::max<int64_t>(1, 4 * group->n));
      for (size_t c0 = g; c0 < end; c0 += static_cast<size_t>(per_chunk)) {
        Chunk c;
        c.group = group;
        c.first = c0, c.last = std::min(end, c0 + static_cast<size_t>(per_chunk));
        chunks.push_back(std::move(c));
      }
      g = end;
    }
    return chunks;
  }

  std::shared_ptr<LayerGroup> layer_group(const SweepPoint& p) {
    STUCKAT_CHECK(model_.stage_of.count(p.layer) && model_.layers.count(p.layer),
                  "layer {} is not read by any forward stage of the model", p.layer);
    const CopyLayer& l = model_.layers.at(p.layer);
    STUCKAT_CHECK(l.words.defined(), "layer {}: set_copy_format was not called", p.layer);
    auto g = std::make_shared<LayerGroup>();
    g->layer = p.layer;
    g->original = l.original;
    g->quantized = l.quantized;
    g->fwd_weight = l.fwd_weight;
    g->n = l.original.numel();
    g->resolved = l.resolved;
    g->words = l.words;
    g->words_dev = l.words_dev;
    g->original_dev = l.original_dev;
    return g;
  }

  SweepRow new_row(size_t i) const {
    SweepRow row;
    row.point = sweep_point(grid_, points_[i]);
    row.model = model_name_;
    return row;
  }

  bool drawn(const Chunk& c) const { return !c.baseline && options_.configs_per_pass > 1; }

  // Bytes of a chunk's weight stack.
  int64_t stack_bytes(const Chunk& c) const {
    return drawn(c) ? static_cast<int64_t>(c.last - c.first) * c.group->n * static_cast<int64_t>(sizeof(float)) : 0;
  }

  // Each point's faulted weights into a row of its chunk's stack (the one-at-a-time path ignores
  // them), its counts and changed-weight bits into the epoch's buffers; the epoch's score buffers.
  void draw(Epoch& e, std::vector<Chunk>& chunks) {
    STUCKAT_GPU_PROFILE("sweep.chunk 1 draw faults");
    int64_t counts = 0, bits = 0, scores = 0;
    for (size_t k = e.first; k < e.last; ++k) {
      Chunk& c = chunks[k];
      if (c.baseline) continue;
      const int64_t m = static_cast<int64_t>(c.last - c.first);
      c.scores_at = scores;
      scores += static_cast<int64_t>(batches_.images.size()) * m;
      if (!drawn(c)) continue;
      c.counts_at = counts;
      c.bits_at = bits;
      counts += 2 * m;
      bits += m * ((c.group->n + 31) / 32);
    }
    if (scores == 0) return;
    Device device = Device::CPU;
    for (size_t k = e.first; k < e.last; ++k)
      if (chunks[k].group) device = chunks[k].group->fwd_weight.device();
    if (counts > 0) {
      e.counts = Tensor::empty({counts}, DType::I64, device);
      e.bits = Tensor::empty({bits}, DType::I32, device);
    }
    e.loss = Tensor::empty({scores}, DType::F32, device);
    e.hits = Tensor::empty({scores}, DType::I64, device);
    for (size_t k = e.first; k < e.last; ++k) {
      Chunk& c = chunks[k];
      if (c.baseline) continue;
      const int64_t entries = static_cast<int64_t>(batches_.images.size() * (c.last - c.first));
      c.loss = slice_rows(e.loss, c.scores_at, c.scores_at + entries);
      c.hits = slice_rows(e.hits, c.scores_at, c.scores_at + entries);
      if (!drawn(c)) continue;
      LayerGroup& G = *c.group;
      const int64_t m = static_cast<int64_t>(c.last - c.first), bit_words = (G.n + 31) / 32;
      c.stack = Tensor::empty({m, G.n}, DType::F32, device);
      c.counts = slice_rows(e.counts, c.counts_at, c.counts_at + 2 * m).view({m, 2});
      c.bits = slice_rows(e.bits, c.bits_at, c.bits_at + m * bit_words).view({m, bit_words});
      for (int64_t i = 0; i < m; ++i)
        c.draws.push_back(make_fault_draw(point_spec(sweep_point(grid_, points_[c.first + static_cast<size_t>(i)])), G.layer));
      fault_layers_into(c.draws, G.words_dev, G.original_dev, G.resolved, c.stack, c.counts, c.bits);
    }
  }

  // The epoch's counts and changed-weight bits (n / 8 bytes a point, not the n weights), one copy each.
  void read_back(Epoch& e, std::vector<Chunk>& chunks) {
    if (!e.counts.defined()) return;
    STUCKAT_GPU_PROFILE("sweep.chunk 2 read back counts and bits");
    e.counts_host = e.counts.to(Device::CPU);
    e.bits_host = e.bits.to(Device::CPU);
    for (size_t k = e.first; k < e.last; ++k) {
      Chunk& c = chunks[k];
      if (!drawn(c)) continue;
      c.counts_host = slice_rows(e.counts_host, c.counts_at, c.counts_at + c.counts.numel());
      c.bits_host = slice_rows(e.bits_host, c.bits_at, c.bits_at + c.bits.numel());
    }
  }

  void plan_group(LayerGroup& G) {
    if (G.planned) return;
    G.planned = true;
    G.s = clean_.start_for(model_.stage_of.at(G.layer));
    const ForwardStage& st = model_.stages[G.s];
    G.conv = dynamic_cast<Conv2d*>(st.layer);
    G.lin = dynamic_cast<Linear*>(st.layer);
    const bool owns = (G.conv && G.conv->weight.raw_data() == G.fwd_weight.raw_data()) ||
                      (G.lin && G.lin->weight.raw_data() == G.fwd_weight.raw_data());
    G.per_pass = points_per_pass(clean_, G.s, options_.configs_per_pass, options_.pass_bytes);
    G.stacked = st.after && owns && G.per_pass > 1;
    if (!G.stacked) return;
    const Device device = G.fwd_weight.device();
    DeltaLayer& L = G.L;
    L = delta_layer(model_.stages, G.s, G.fwd_weight, clean_);
    if (L.channel_path && device == Device::CUDA) {
      // On the GPU the channel path costs three to six launches per point where the stacked pass
      // costs one: it pays only when the next layer has real work to skip (LeNet-5 at 10k images:
      // conv2's 1.5 G multiply-adds and fc1's 0.31 G go on it; fc2's 0.1 G and fc3's 8 M do not).
      const Tensor& next_out = clean_.layer_out[G.s + 1][0];
      const Tensor& next_w = L.next_conv ? L.next_conv->weight : L.next_lin->weight;
      const int64_t macs = next_out.numel() * (next_w.numel() / next_w.size(0));
      if (macs < options_.channel_path_min_macs) L.channel_path = false;
    }
    // One fused pass on the GPU (channel_delta.h), where the chain's passes over memory are the
    // cost. On the CPU the chain's vectorised loops win: the fused loop took twice as long for
    // LeNet-5's conv1 and conv2 points (12.5 against 25 points/s, 2 threads); tests ask for it there.
    L.fused = st.after_relu_pool.matches && (device == Device::CUDA || options_.fused_channel_delta_on_cpu);
    // Up to all but one channel; all of them when the fused pass replaces a ReLU and a max pool:
    // the whole stage-s output of the point then never exists (the full path copies the clean one,
    // adds the changes, runs ReLU and the pool over it and copies the next layer's output into the
    // pass).
    L.max_channels = L.fused && st.after_relu_pool.pool_k > 1 ? L.out_channels : L.out_channels - 1;
    G.stacked_channels = L.channel_path && L.fused && L.next_lin != nullptr && L.max_channels == L.out_channels;
    if (L.channel_path) {
      // A point's channels of the next layer's weights are selected on the host and go up with the
      // chunk's other points' in one copy (rather than a selection launch and allocation each).
      const Tensor& next_w = L.next_conv ? L.next_conv->weight : L.next_lin->weight;
      for (const auto& [name, l] : model_.layers)
        if (l.fwd_weight.raw_data() == next_w.raw_data() && l.quantized.shape() == next_w.shape())
          G.next_host = l.quantized;
    }
    G.geometry = geometry_of(L);
    G.wshape = G.fwd_weight.shape();
    G.wshape.insert(G.wshape.begin(), 1);
  }

  // Rows, changed weights and change lists of a chunk's points; the lists go up in one copy.
  void plan(Chunk& c) {
    if (c.baseline) return;
    STUCKAT_GPU_PROFILE("sweep.chunk 3 plan points and upload changes");
    LayerGroup& G = *c.group;
    plan_group(G);
    for (size_t i = c.first; i < c.last; ++i) c.rows.push_back(new_row(i));
    if (!G.stacked) return;
    const int64_t m = static_cast<int64_t>(c.last - c.first), bit_words = (G.n + 31) / 32;
    const auto* count_of = static_cast<const int64_t*>(c.counts_host.raw_data());
    const auto* bits_of = static_cast<const uint32_t*>(c.bits_host.raw_data());
    // The changed weights of the points that take the delta path, one point per thread (each
    // rebuilds its faulted words from its draw: ~0.1 us per changed weight; pure CPU work). A
    // chunk with little of it stays on this thread: the planning thread's first parallel region
    // starts its own OpenMP team (a thread per core), worth it for fc1's 20 points (~20k changed
    // weights), not for conv1's (tens).
    int64_t work = 0;
    for (int64_t i = 0; i < m; ++i)
      if (count_of[2 * i + 1] * kDeltaFraction <= G.n) work += count_of[2 * i + 1];
    std::vector<std::vector<WeightChange>> changes(static_cast<size_t>(m));
    std::vector<std::exception_ptr> failed(static_cast<size_t>(m));  // an exception may not leave the parallel loop
#pragma omp parallel for schedule(dynamic, 1) if (work >= kParallelPlanWork)
    for (int64_t i = 0; i < m; ++i) {
      const int64_t changed = count_of[2 * i + 1];
      if (changed == 0 || changed * kDeltaFraction > G.n) continue;
      try {
        changes[static_cast<size_t>(i)] = changed_weights(c.draws[static_cast<size_t>(i)], bits_of + i * bit_words,
                                                          G.words, G.original, G.quantized, G.resolved);
      } catch (...) {
        failed[static_cast<size_t>(i)] = std::current_exception();
      }
    }
    for (const std::exception_ptr& e : failed)
      if (e) std::rethrow_exception(e);
    for (int64_t i = 0; i < m; ++i) {
      SweepRow& row = c.rows[static_cast<size_t>(i)];
      row.faulty_weights = count_of[2 * i];
      row.changed_weights = count_of[2 * i + 1];
      if (row.changed_weights == 0) {
        c.used_of.push_back(-1);
        continue;
      }
      c.used_of.push_back(static_cast<int64_t>(c.used.size()));
      StackedPoint sp;
      sp.slot = i;
      sp.full = row.changed_weights * kDeltaFraction > G.n;
      if (!sp.full && G.stacked_channels)
        sp.plan.changes = std::move(changes[static_cast<size_t>(i)]);  // all channels: no selection
      else if (!sp.full)
        sp.plan = plan_delta_point(G.L, changes[static_cast<size_t>(i)], G.n, G.next_host);
      c.packed.push_back(point_changes(G.L, sp.plan));  // empty for a full point
      c.used.push_back(std::move(sp));
    }
    pack_weight_changes(c.packed, G.fwd_weight.device());
    // The next-layer weights selected on the host, up in one copy.
    std::vector<Tensor> host_weights;
    std::vector<Tensor*> owners;
    for (StackedPoint& sp : c.used)
      if (sp.plan.next_weight.defined() && sp.plan.next_weight.device() != G.fwd_weight.device()) {
        host_weights.push_back(sp.plan.next_weight);
        owners.push_back(&sp.plan.next_weight);
      }
    if (!host_weights.empty()) {
      const std::vector<Tensor> dev = upload_packed(host_weights, DType::F32, G.fwd_weight.device());
      for (size_t k = 0; k < owners.size(); ++k) *owners[k] = dev[k];
    }
  }

  void launch(Chunk& c) {
    if (c.baseline) return;
    if (c.group->stacked)
      launch_stacked(c);
    else
      run_one_at_a_time(c);
  }

  // Each point writes the copy's weights and runs alone from stage s (which does not begin with
  // the layer, or one point per pass fits).
  void run_one_at_a_time(Chunk& c) {
    LayerGroup& G = *c.group;
    const std::string region = "sweep.forward from " + G.layer;
    for (size_t i = c.first; i < c.last; ++i) {
      SweepRow& row = c.rows[i - c.first];
      const PointFaultCounts counts = fault_layer(make_fault_draw(point_spec(row.point), G.layer), G.words_dev,
                                                  G.original_dev, G.resolved, G.fwd_weight.view({G.n}));
      row.faulty_weights = counts.faulty;
      row.changed_weights = counts.changed;
      PointScore score;
      for (size_t b = 0; counts.changed > 0 && b < batches_.images.size(); ++b) {
        Tensor logits;
        {
          STUCKAT_GPU_PROFILE(region.c_str());
          logits = run_stages(model_.stages, G.s, model_.stages.size(), clean_.input[G.s][b]);
        }
        score.add_block(block_scores(logits, batches_.labels[b], 1)[0], batches_.labels[b].numel());
      }
      c.used_of.push_back(counts.changed > 0 ? static_cast<int64_t>(c.direct_scores.size()) : -1);
      if (counts.changed > 0) c.direct_scores.push_back(score);
    }
    G.fwd_weight.copy_(G.quantized);
  }

  // Passes of up to per_pass used points; each batch scored into [batch][point] on the device.
  void launch_stacked(Chunk& c) {
    LayerGroup& G = *c.group;
    const std::vector<ForwardStage>& stages = model_.stages;
    const ForwardStage& st = stages[G.s];
    const size_t s = G.s, nb = batches_.images.size();
    const Device device = G.fwd_weight.device();
    const std::string forward_region = "sweep.forward from " + G.layer;
    const int64_t count = static_cast<int64_t>(c.used.size());
    if (count > 0) {  // [batch][used point]: the first nb * count of the chunk's entries
      c.loss = slice_rows(c.loss, 0, static_cast<int64_t>(nb) * count);
      c.hits = slice_rows(c.hits, 0, static_cast<int64_t>(nb) * count);
    }
    std::optional<cuda::ProfileScope> region;  // sub-steps of a pass, for STUCKAT_CUDA_PROFILE
    for (int64_t p0 = 0; p0 < count; p0 += G.per_pass) {
      const int64_t p1 = std::min(count, p0 + G.per_pass), in_pass = p1 - p0;
      // Some point takes the channel path: the pass stacks stage s + 1's layer outputs.
      bool channel_level = G.stacked_channels;
      for (int64_t p = p0; p < p1; ++p) channel_level = channel_level || !c.used[static_cast<size_t>(p)].plan.channels.empty();
      for (size_t b = 0; b < nb; ++b) {
        const Tensor& x = clean_.input[s][b];
        const Tensor& clean_out = clean_.layer_out[s][b];
        const int64_t images = x.size(0);
        // Point p's stage-s layer output into y (shaped like clean_out).
        auto layer_out = [&](size_t p, Tensor& y) {
          if (!c.used[p].full) {
            y.copy_(clean_out);
            add_weight_changes(x, y, G.geometry, c.packed[p]);
          } else {
            const Tensor weights = slice_rows(c.stack, c.used[p].slot, c.used[p].slot + 1).view(G.wshape);
            y.copy_(G.conv ? conv2d_multi(x, weights, G.conv->bias, G.conv->stride, G.conv->pad)
                           : linear_multi(x, weights, G.lin->bias));
          }
        };
        Tensor logits;
        {
          STUCKAT_GPU_PROFILE(forward_region.c_str());
          const Tensor& level_out = channel_level ? clean_.layer_out[s + 1][b] : clean_out;
          Shape yshape = level_out.shape();
          yshape[0] = in_pass * images;
          const auto t_alloc = std::chrono::steady_clock::now();
          Tensor y = G.stacked_channels ? Tensor() : Tensor::empty(yshape, DType::F32, device);
          const auto t_outputs = std::chrono::steady_clock::now();
          c.trace_alloc_ms += std::chrono::duration<double, std::milli>(t_outputs - t_alloc).count();
          region.emplace("sweep.pass 4 each point's layer output");
          std::vector<const PackedChanges*> delta_lists;  // per point of the pass; null for a full point
          for (int64_t p = p0; p < p1; ++p)
            delta_lists.push_back(c.used[static_cast<size_t>(p)].full ? nullptr : &c.packed[static_cast<size_t>(p)]);
          if (G.stacked_channels) {
            // next layer(clean next input + Z) = clean next output + next layer(Z), Z the points'
            // stacked differences (0 on unchanged channels and for full points).
            const ForwardStage::ReluPool& rp = st.after_relu_pool;
            const Tensor& next_in = clean_.input[s + 1][b];
            const Tensor z = relu_pool_channel_delta_stacked(x, clean_out, G.geometry, delta_lists, rp.pool_k,
                                                             rp.pool_stride, rp.pool_first, next_in);
            y = linear(z.view({in_pass * images, next_in.numel() / images}), G.L.next_lin->weight, Tensor());
            add_tiled_into(y, clean_.layer_out[s + 1][b], y);
          }
          if (!channel_level) {  // the points with few changes in one launch on the GPU
            add_weight_changes_stacked(x, clean_out, y, G.geometry, delta_lists);
          }
          for (int64_t p = p0; p < p1; ++p) {
            const size_t u = static_cast<size_t>(p);
            const int64_t row0 = (p - p0) * images;
            Tensor block = slice_rows(y, row0, row0 + images);
            if (!channel_level) {
              if (c.used[u].full) layer_out(u, block);
            } else if (G.stacked_channels && !c.used[u].full) {
              // done above
            } else if (!c.used[u].plan.channels.empty()) {
              channel_path_next_out(stages, clean_, b, G.L, c.used[u].plan, c.packed[u], block);
            } else {
              Tensor own = Tensor::empty(clean_out.shape(), DType::F32, device);
              layer_out(u, own);
              block.copy_(stages[s + 1].layer->forward(st.after(own)));
            }
          }
          region.reset();
          const auto t_rest = std::chrono::steady_clock::now();
          region.emplace("sweep.pass 5 rest of the network, stacked");
          logits = channel_level ? run_stages(stages, s + 2, stages.size(), stages[s + 1].after(y))
                                 : run_stages(stages, s + 1, stages.size(), st.after(y));
          region.reset();
          const auto t_end = std::chrono::steady_clock::now();
          c.trace_outputs_ms += std::chrono::duration<double, std::milli>(t_rest - t_outputs).count();
          c.trace_rest_ms += std::chrono::duration<double, std::milli>(t_end - t_rest).count();
        }
        const int64_t at = static_cast<int64_t>(b) * count + p0;  // entries [at, at + in_pass) of the flat scores
        const auto t_scores = std::chrono::steady_clock::now();
        block_scores_into(logits, batches_.labels[b], in_pass, slice_rows(c.loss.view({-1}), at, at + in_pass),
                          slice_rows(c.hits.view({-1}), at, at + in_pass));
        c.trace_scores_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_scores).count();
      }
    }
  }

  // The scores of an epoch whose passes are done: one copy each for all its chunks (the first
  // copy waits for the device to finish them).
  void collect(Epoch& e, std::vector<Chunk>& chunks) {
    clean_.baseline();  // scored now (its first use reads it back)
    bool any = false;
    for (size_t k = e.first; k < e.last; ++k) any = any || (!chunks[k].baseline && chunks[k].group->stacked);
    if (!any) return;
    STUCKAT_GPU_PROFILE("sweep.chunk 6 read back scores");
    e.loss_host = e.loss.to(Device::CPU);
    e.hits_host = e.hits.to(Device::CPU);
    for (size_t k = e.first; k < e.last; ++k) {
      Chunk& c = chunks[k];
      if (c.baseline || !c.group->stacked) continue;
      c.loss_host = slice_rows(e.loss_host, c.scores_at, c.scores_at + c.loss.numel());
      c.hits_host = slice_rows(e.hits_host, c.scores_at, c.scores_at + c.hits.numel());
    }
  }

  // Rows out in order.
  void emit(Chunk& c) {
    if (c.baseline) {
      SweepRow row = new_row(c.first);
      clean_.baseline().fill(row);
      on_row_(row);
      return;
    }
    std::vector<PointScore> scores = std::move(c.direct_scores);
    if (c.group->stacked) {
      const int64_t count = static_cast<int64_t>(c.used.size());
      scores.assign(c.used.size(), PointScore());
      for (size_t b = 0; b < batches_.images.size(); ++b)  // batch by batch, in order
        for (int64_t p = 0; p < count; ++p) {
          const int64_t at = static_cast<int64_t>(b) * count + p;
          scores[static_cast<size_t>(p)].add_block(
              {static_cast<double>(c.loss_host.data<float>()[at]), c.hits_host.data<int64_t>()[at]},
              batches_.labels[b].numel());
        }
    }
    for (size_t i = 0; i < c.rows.size(); ++i) {
      const PointScore& score = c.used_of[i] < 0 ? clean_.baseline() : scores[static_cast<size_t>(c.used_of[i])];
      score.fill(c.rows[i]);
      on_row_(c.rows[i]);
    }
  }

  const CopyModel& model_;
  const SweepGrid& grid_;
  const std::vector<int64_t>& points_;
  const std::string& model_name_;
  const TestBatches& batches_;
  const SweepRunOptions& options_;
  const std::function<void(const SweepRow&)>& on_row_;
  CleanPass clean_;
  StepTimes times_;
  cuda::QueueMark trace_last_end_;  // the end of the last traced chunk's passes
};

}  // namespace

void run_copy_points(const CopyModel& model, const SweepGrid& grid, const std::vector<int64_t>& points, size_t first,
                     size_t last, const std::string& model_name, const TestBatches& batches,
                     const SweepRunOptions& options, const std::function<void(const SweepRow&)>& on_row) {
  Pipeline(model, grid, points, model_name, batches, options, on_row).run(first, last);
}

}  // namespace stuckat::sweep
