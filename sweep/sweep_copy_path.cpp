// The sweep on a model copy, chunked and pipelined (sweep_copy_path.h).
#include "sweep/sweep_copy_path.h"

#include "sweep/sweep_copy_chunks.h"

namespace stuckat::sweep {
namespace {
using namespace copy_path;

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
      if (!c.baseline) {
        for (size_t i = c.first; i < c.last; ++i) c.rows.push_back(new_row(i));
        plan_chunk(c, model_, clean_, options_);
      }
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
