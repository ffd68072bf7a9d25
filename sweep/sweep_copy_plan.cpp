// The host's plan of a chunk on the model-copy path (sweep_copy_chunks.h): run on the planning
// thread ahead of the launches; pure host work apart from the uploads it queues.
#include "sweep/sweep_copy_chunks.h"

namespace stuckat::sweep::copy_path {
namespace {

// The stacked-pass set-up a layer's chunks share: the stage its points start from, whether they
// share passes, the delta / channel path and the next layer's host weights. Once, on first use.
void plan_group(LayerGroup& G, const CopyModel& model, const CleanPass& clean, const SweepRunOptions& options) {
  if (G.planned) return;
  G.planned = true;
  G.s = clean.start_for(model.stage_of.at(G.layer));
  const ForwardStage& st = model.stages[G.s];
  G.conv = dynamic_cast<Conv2d*>(st.layer);
  G.lin = dynamic_cast<Linear*>(st.layer);
  const bool owns = (G.conv && G.conv->weight.raw_data() == G.fwd_weight.raw_data()) ||
                    (G.lin && G.lin->weight.raw_data() == G.fwd_weight.raw_data());
  G.per_pass = points_per_pass(clean, G.s, options.configs_per_pass, options.pass_bytes);
  G.stacked = st.after && owns && G.per_pass > 1;
  if (!G.stacked) return;
  const Device device = G.fwd_weight.device();
  DeltaLayer& L = G.L;
  L = delta_layer(model.stages, G.s, G.fwd_weight, clean);
  if (L.channel_path && device == Device::CUDA) {
    // On the GPU the channel path costs three to six launches per point where the stacked pass
    // costs one: it pays only when the next layer has real work to skip (LeNet-5 at 10k images:
    // conv2's 1.5 G multiply-adds and fc1's 0.31 G go on it; fc2's 0.1 G and fc3's 8 M do not).
    const Tensor& next_out = clean.layer_out[G.s + 1][0];
    const Tensor& next_w = L.next_conv ? L.next_conv->weight : L.next_lin->weight;
    const int64_t macs = next_out.numel() * (next_w.numel() / next_w.size(0));
    if (macs < options.channel_path_min_macs) L.channel_path = false;
  }
  // One fused pass on the GPU (channel_delta.h), where the chain's passes over memory are the
  // cost. On the CPU the chain's vectorised loops win: the fused loop took twice as long for
  // LeNet-5's conv1 and conv2 points (12.5 against 25 points/s, 2 threads); tests ask for it there.
  L.fused = st.after_relu_pool.matches && (device == Device::CUDA || options.fused_channel_delta_on_cpu);
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
    for (const auto& [name, l] : model.layers)
      if (l.fwd_weight.raw_data() == next_w.raw_data() && l.quantized.shape() == next_w.shape())
        G.next_host = l.quantized;
  }
  G.geometry = geometry_of(L);
  G.wshape = G.fwd_weight.shape();
  G.wshape.insert(G.wshape.begin(), 1);
}

}  // namespace

void plan_chunk(Chunk& c, const CopyModel& model, const CleanPass& clean, const SweepRunOptions& options) {
  if (c.baseline) return;
  STUCKAT_GPU_PROFILE("sweep.chunk 3 plan points and upload changes");
  LayerGroup& G = *c.group;
  plan_group(G, model, clean, options);
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

}  // namespace stuckat::sweep::copy_path
