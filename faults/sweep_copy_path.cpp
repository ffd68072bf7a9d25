// The sweep on a model copy, chunked and pipelined (sweep_copy_path.h).
#include "faults/sweep_copy_path.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>

#include "faults/block_scores.h"
#include "faults/channel_delta.h"
#include "faults/sweep_point.h"
#include "faults/sweep_trace.h"
#include "faults/weight_codec.h"
#include "faults/weight_format.h"
#include "framework/error.h"
#include "framework/ops.h"
#include "kernels/cuda/profile.h"

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
  Tensor stack, counts, bits;            // device
  Tensor counts_host, bits_host;         // read back
  std::vector<SweepRow> rows;            // planned (one per point), scored by emit
  std::vector<int64_t> used_of;          // per row: its entry in `used`, or -1 (scores as the baseline)
  std::vector<StackedPoint> used;
  std::vector<PackedChanges> packed;     // per used point: what add_weight_changes adds
  Tensor loss, hits;                     // [batch][used point] scores on the device
  Tensor loss_host, hits_host;           // ... read back
  std::vector<PointScore> direct_scores;  // one-at-a-time chunks: scored as they run
  double trace_ms[StepTimes::kSteps] = {};  // STUCKAT_SWEEP_TRACE: host ms per step
  // ... of launch: the stacked output's allocation, the points' outputs, the rest, the scoring
  double trace_alloc_ms = 0, trace_outputs_ms = 0, trace_rest_ms = 0, trace_scores_ms = 0;
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
    std::vector<Chunk> chunks = split(first, last);
    const size_t count = chunks.size();
    auto draw_ = [&](Chunk& c) { const auto t = times_.time(StepTimes::kDraw, c.trace_ms); draw(c); };
    auto read_back_ = [&](Chunk& c) { const auto t = times_.time(StepTimes::kReadBack, c.trace_ms); read_back(c); };
    auto plan_ = [&](Chunk& c) { const auto t = times_.time(StepTimes::kPlan, c.trace_ms); plan(c); };
    auto launch_ = [&](Chunk& c) { const auto t = times_.time(StepTimes::kLaunch, c.trace_ms); launch(c); };
    auto collect_ = [&](Chunk& c) { const auto t = times_.time(StepTimes::kCollect, c.trace_ms); collect(c); };
    auto emit_ = [&](Chunk& c) {
      {
        const auto t = times_.time(StepTimes::kEmit, c.trace_ms);
        emit(c);
      }
      if (times_.on() && !c.baseline)
        std::fprintf(stderr,
                     "sweep trace: chunk %s, %zu points (%zu changed a weight): draw %.3f read back %.3f plan %.3f "
                     "launch %.3f (allocation %.3f, outputs %.3f, rest %.3f, scores %.3f) collect %.3f emit %.3f ms\n",
                     c.group->layer.c_str(), c.last - c.first, c.used.size(), c.trace_ms[StepTimes::kDraw],
                     c.trace_ms[StepTimes::kReadBack], c.trace_ms[StepTimes::kPlan], c.trace_ms[StepTimes::kLaunch],
                     c.trace_alloc_ms, c.trace_outputs_ms, c.trace_rest_ms, c.trace_scores_ms,
                     c.trace_ms[StepTimes::kCollect], c.trace_ms[StepTimes::kEmit]);
      c = Chunk();  // its device memory goes back now
    };
    for (size_t i = 0; i < std::min<size_t>(2, count); ++i) draw_(chunks[i]);
    for (size_t i = 0; i < std::min<size_t>(2, count); ++i) read_back_(chunks[i]);
    {
      const auto t = times_.time(StepTimes::kCleanPass);
      STUCKAT_GPU_PROFILE("sweep.clean_pass");
      clean_ = clean_pass(model_.stages, batches_, options_.prefix_cache_bytes, true);
    }
    if (count > 0) plan_(chunks[0]);
    for (size_t i = 0; i < count; ++i) {
      if (i > 0) collect_(chunks[i - 1]);  // done: the last read-back waited for it
      launch_(chunks[i]);
      if (i > 0) emit_(chunks[i - 1]);     // host work while chunk i runs
      if (i + 1 < count) plan_(chunks[i + 1]);
      if (i + 2 < count) {
        draw_(chunks[i + 2]);
        read_back_(chunks[i + 2]);  // waits for chunk i
      }
    }
    if (count > 0) {
      collect_(chunks[count - 1]);
      emit_(chunks[count - 1]);
    }
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
    STUCKAT_CHECK(model_.stage_of.count(p.layer) && model_.original.count(p.layer) && model_.fwd_weight.count(p.layer),
                  "layer {} is not read by any forward stage of the model", p.layer);
    auto g = std::make_shared<LayerGroup>();
    g->layer = p.layer;
    g->original = model_.original.at(p.layer);
    g->quantized = model_.quantized.at(p.layer);
    g->fwd_weight = model_.fwd_weight.at(p.layer);
    g->n = g->original.numel();
    g->resolved = resolve_layer_format(parse_weight_format(p.format), g->original.data<float>(), g->n);
    g->words = Tensor::empty({g->n}, DType::I16);
    encode_weights(g->original.data<float>(), static_cast<uint16_t*>(g->words.raw_data()), g->n, g->resolved);
    const Device device = g->fwd_weight.device();
    g->words_dev = g->words.to(device);
    g->original_dev = g->original.to(device);
    return g;
  }

  SweepRow new_row(size_t i) const {
    SweepRow row;
    row.point = sweep_point(grid_, points_[i]);
    row.model = model_name_;
    return row;
  }

  // Each point's faulted weights into a row of the chunk's stack (the one-at-a-time path ignores them).
  void draw(Chunk& c) {
    if (c.baseline || options_.configs_per_pass <= 1) return;
    STUCKAT_GPU_PROFILE("sweep.chunk 1 draw faults");
    LayerGroup& G = *c.group;
    const Device device = G.fwd_weight.device();
    const int64_t m = static_cast<int64_t>(c.last - c.first), n = G.n, bit_words = (n + 31) / 32;
    c.stack = Tensor::empty({m, n}, DType::F32, device);
    c.counts = Tensor::empty({m, 2}, DType::I64, device);
    c.bits = Tensor::empty({m, bit_words}, DType::I32, device);
    for (int64_t i = 0; i < m; ++i)
      c.draws.push_back(make_fault_draw(point_spec(sweep_point(grid_, points_[c.first + static_cast<size_t>(i)])), G.layer));
    fault_layers_into(c.draws, G.words_dev, G.original_dev, G.resolved, c.stack, c.counts, c.bits);
  }

  // The counts and the changed-weight bits (n / 8 bytes a point, not the n weights).
  void read_back(Chunk& c) {
    if (c.baseline || options_.configs_per_pass <= 1) return;
    STUCKAT_GPU_PROFILE("sweep.chunk 2 read back counts and bits");
    c.counts_host = c.counts.to(Device::CPU);
    c.bits_host = c.bits.to(Device::CPU);
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
    // rebuilds its faulted words from its draw: ~0.1 us per changed weight; pure CPU work).
    std::vector<std::vector<WeightChange>> changes(static_cast<size_t>(m));
    std::vector<std::exception_ptr> failed(static_cast<size_t>(m));  // an exception may not leave the parallel loop
#pragma omp parallel for schedule(dynamic, 1)
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
        sp.plan = plan_delta_point(G.L, changes[static_cast<size_t>(i)], G.n);
      c.packed.push_back(point_changes(G.L, sp.plan));  // empty for a full point
      c.used.push_back(std::move(sp));
    }
    pack_weight_changes(c.packed, G.fwd_weight.device());
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
    c.loss = Tensor::empty({static_cast<int64_t>(nb), std::max<int64_t>(1, count)}, DType::F32, device);
    c.hits = Tensor::empty({static_cast<int64_t>(nb), std::max<int64_t>(1, count)}, DType::I64, device);
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

  // The scores of a chunk whose passes are done, read back (one copy each). Called before the
  // next chunk launches: a copy to the host waits for everything queued before it.
  void collect(Chunk& c) {
    if (c.baseline || c.group->stacked) clean_.baseline();  // scored now, while the queue is empty
    if (c.baseline || !c.group->stacked) return;
    STUCKAT_GPU_PROFILE("sweep.chunk 6 read back scores");
    c.loss_host = c.loss.to(Device::CPU);
    c.hits_host = c.hits.to(Device::CPU);
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
};

}  // namespace

void run_copy_points(const CopyModel& model, const SweepGrid& grid, const std::vector<int64_t>& points, size_t first,
                     size_t last, const std::string& model_name, const TestBatches& batches,
                     const SweepRunOptions& options, const std::function<void(const SweepRow&)>& on_row) {
  Pipeline(model, grid, points, model_name, batches, options, on_row).run(first, last);
}

}  // namespace stuckat::sweep
