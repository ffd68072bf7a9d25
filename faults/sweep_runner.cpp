// The sweep runner: prefix reuse per faulted layer and several fault configurations per pass.
// The CPU path is here; the model-copy (GPU) path is sweep_copy_path.cpp.
#include "faults/sweep_runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "faults/faulty_model.h"
#include "faults/sweep_delta.h"
#include "faults/sweep_copy_path.h"
#include "faults/weight_changes_op.h"
#include "faults/weight_format.h"
#include "framework/autograd.h"
#include "framework/error.h"
#include "framework/nn/layers.h"
#include "framework/ops.h"
#include "kernels/cuda/profile.h"

namespace stuckat {
namespace {

using namespace sweep;

// Logits of one delta point on batch b.
Tensor delta_point_logits(const std::vector<ForwardStage>& stages, const CleanPass& clean, size_t b,
                          const DeltaLayer& L, const DeltaPoint& p) {
  const size_t s = L.stage;
  const Tensor& x = clean.input[s][b];
  if (p.channels.empty() && s + 1 < stages.size() && clean.kept[s + 1] && fuses_relu_pool(stages, L) &&
      x.device() == Device::CPU) {
    // The whole layer output, through the stage's ReLU / pool chain image by image (the faulted
    // output never exists): the next stage's clean input with the changed channels recomputed.
    Tensor next = clean.input[s + 1][b].clone();
    changes_through_relu_pool(stages, clean, b, L, {}, p.changes, next);
    return run_stages(stages, s + 1, stages.size(), next);
  }
  if (p.channels.empty()) {  // the whole layer output: clean output + the changed weights' part
    Tensor y = clean.layer_out[s][b].clone();
    add_weight_changes(x, y, geometry_of(L), p.changes);
    return run_stages(stages, s + 1, stages.size(), stages[s].after(y));
  }
  std::vector<PackedChanges> sub = {point_changes(L, p)};
  pack_weight_changes(sub, x.device());
  Tensor y_next = Tensor::empty(clean.layer_out[s + 1][b].shape(), DType::F32, x.device());
  channel_path_next_out(stages, clean, b, L, p, sub[0], y_next);
  return run_stages(stages, s + 2, stages.size(), stages[s + 1].after(y_next));
}

bool same_changes(const std::vector<WeightChange>& a, const std::vector<WeightChange>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](const WeightChange& u, const WeightChange& v) {
           return u.index == v.index && std::memcmp(&u.delta, &v.delta, sizeof(float)) == 0;
         });
}

}  // namespace

void run_sweep(Module& model, const std::string& model_name, const Dataset& test, const SweepGrid& grid,
               const std::vector<int64_t>& points, const SweepRunOptions& options,
               const std::function<void(const SweepRow&)>& on_row) {
  STUCKAT_CHECK(options.batch >= 1 && options.configs_per_pass >= 1, "sweep batch and configs per pass must be >= 1");
  for (size_t i = 1; i < points.size(); ++i) STUCKAT_CHECK(points[i - 1] < points[i], "sweep points must ascend");
  if (points.empty()) return;
  STUCKAT_CHECK(test.size() > 0, "the sweep's test set {} holds no images", test.name);
  const auto t_entry = std::chrono::steady_clock::now();
  const bool trace = std::getenv("STUCKAT_SWEEP_TRACE") != nullptr;
  auto trace_ms = [&] { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_entry).count(); };
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();

  // Forward passes run on `fwd`: the model itself, or its copy on the GPU.
  Module& fwd = options.device_model != nullptr ? *options.device_model : model;
  const bool on_device = options.device_model != nullptr;
  const bool fwd_was_training = fwd.is_training();
  fwd.eval();
  const std::vector<ForwardStage> stages = fwd.forward_stages();
  std::map<std::string, size_t> stage_of;
  for (size_t k = 0; k < stages.size(); ++k)
    for (const std::string& layer : stages[k].layers) stage_of.emplace(layer, k);
  std::map<std::string, Tensor> weight_of, clean_of;  // layer -> parameter, its original values
  const NamedTensorList params = model.named_parameters();
  for (const std::string& layer : faultable_layer_names(model))
    for (const auto& [name, t] : params)
      if (name == layer + ".weight") {
        weight_of[layer] = t;
        clean_of[layer] = on_device ? t : t.clone();  // the device path only reads the CPU model
      }
  auto restore_all = [&] {
    for (auto& [layer, w] : weight_of) std::memcpy(w.data<float>(), clean_of[layer].data<float>(), w.nbytes());
  };

  const NamedTensorList fwd_params = fwd.named_parameters();
  const Device fwd_device = fwd_params.empty() ? Device::CPU : fwd_params.front().second.device();
  const TestBatches batches = split_test_set(test, options.batch, fwd_device);
  const size_t nb = batches.images.size();
  std::string pass_format;  // the format whose clean pass is in `clean`
  CleanPass clean;

  if (on_device) {
    // Runs of consecutive points of one format: the copy's layers are quantized to it, then its
    // passes run the run's points (sweep_copy_path.h). The CPU model is only read.
    if (trace) std::fprintf(stderr, "sweep trace: %.3f ms (host) from run_sweep's entry to the model copy's formats\n", trace_ms());
    std::map<std::string, Tensor> fwd_weight_of;  // layer -> the copy's parameter
    for (const auto& [name, t] : fwd.named_parameters())
      for (const auto& [layer, w] : weight_of)
        if (name == layer + ".weight") {
          STUCKAT_CHECK(t.shape() == w.shape(), "device model layer {} has another shape", layer);
          fwd_weight_of[layer] = t;
        }
    STUCKAT_CHECK(fwd_weight_of.size() == weight_of.size(), "the device model lacks some faultable layers");
    CopyModel copy = make_copy_model(stages, fwd_weight_of, clean_of);
    for (size_t g = 0; g < points.size();) {
      const std::string format = sweep_point(grid, points[g]).format;
      size_t end = g + 1;
      while (end < points.size() && sweep_point(grid, points[end]).format == format) ++end;
      const double t0 = trace_ms();
      set_copy_format(copy, format);
      if (trace) std::fprintf(stderr, "sweep trace: format %s set up in %.3f ms (host)\n", format.c_str(), trace_ms() - t0);
      run_copy_points(copy, grid, points, g, end, model_name, batches, options, on_row);
      g = end;
    }
    restore_copy(copy);
    model.train(was_training);
    fwd.train(fwd_was_training);
    if (trace) std::fprintf(stderr, "sweep trace: run_sweep returns after %.3f ms (host)\n", trace_ms());
    return;
  }

  // The shallowest stage any point starts from: the clean activations before it are not kept.
  size_t first_kept = stages.empty() ? 0 : stages.size() - 1;
  for (int64_t i : points) {
    const SweepPoint p = sweep_point(grid, i);
    if (p.baseline) continue;
    const auto it = stage_of.find(p.layer);
    first_kept = std::min(first_kept, it == stage_of.end() ? size_t(0) : it->second);
  }

  size_t g = 0;
  while (g < points.size()) {
    // A group: consecutive points of one format that fault the same layer (or one baseline).
    const SweepPoint first = sweep_point(grid, points[g]);
    size_t end = g + 1;
    while (!first.baseline && end < points.size()) {
      const SweepPoint p = sweep_point(grid, points[end]);
      if (p.baseline || p.format != first.format || p.layer != first.layer) break;
      ++end;
    }
    const WeightFormat format = parse_weight_format(first.format);
    // Every layer holds its clean words: after a format change, and after a group, whose points
    // rewrote the model's weights.
    if (pass_format != first.format || !first.baseline) {
      restore_all();
      FaultInjection quantize_all(model, format, {}, true);
      quantize_all.apply();
    }
    if (pass_format != first.format) {
      STUCKAT_GPU_PROFILE("sweep.clean_pass");
      clean = clean_pass(stages, batches, options.prefix_cache_bytes, false, first_kept);
      pass_format = first.format;
    }

    if (first.baseline) {
      SweepRow row;
      row.point = first;
      row.model = model_name;
      clean.baseline().fill(row);
      on_row(row);
      g = end;
      continue;
    }

    STUCKAT_CHECK(stage_of.count(first.layer) && weight_of.count(first.layer),
                  "layer {} is not read by any forward stage of the model", first.layer);
    Tensor weight = weight_of[first.layer];
    const Tensor& original = clean_of[first.layer];
    const Tensor quantized = weight.clone();  // the layer's clean words, decoded
    const size_t s = clean.start_for(stage_of[first.layer]);  // where its points start
    const std::vector<Tensor>& inputs = clean.input[s];
    const DeltaLayer layer = delta_layer(stages, s, weight, clean);
    const bool delta_path = layer.conv || layer.lin;

    for (size_t c = g; c < end; c += static_cast<size_t>(options.configs_per_pass)) {
      const size_t c_end = std::min(end, c + static_cast<size_t>(options.configs_per_pass));
      std::vector<SweepRow> rows;
      std::vector<Tensor> faulted(c_end - c);     // full faulted weights (no delta path)
      std::vector<DeltaPoint> plans(c_end - c);   // delta path
      std::vector<std::vector<WeightChange>> changes_of;
      std::vector<int64_t> same_as;  // -1: computed; -2: no weight changed (the baseline); else an earlier row
      for (size_t i = c; i < c_end; ++i) {
        STUCKAT_GPU_PROFILE("sweep.fault_point (CPU)");
        SweepRow row;
        row.point = sweep_point(grid, points[i]);
        row.model = model_name;
        const FaultSpec spec = point_spec(row.point);
        std::memcpy(weight.data<float>(), original.data<float>(), weight.nbytes());  // the snapshot must be unquantized
        FaultInjection inject(model, format, {spec});
        const std::vector<LayerFaultStats> stats = inject.apply();
        STUCKAT_CHECK(stats.size() == 1, "a sweep point faults exactly one layer");
        row.faulty_weights = stats[0].faulty;
        row.changed_weights = stats[0].changed;
        std::vector<WeightChange> changes = weight_changes(quantized.data<float>(), weight.data<float>(), weight.numel());
        // A point's score depends only on its changed weights: none changed is the baseline, and
        // the same changes as an earlier point of the pass give that point's score.
        int64_t same = changes.empty() ? -2 : -1;
        for (size_t j = 0; j < rows.size() && same == -1; ++j)
          if (same_as[j] == -1 && same_changes(changes, changes_of[j])) same = static_cast<int64_t>(j);
        same_as.push_back(same);
        if (same == -1 && delta_path) plans[rows.size()] = plan_delta_point(layer, changes, weight.numel());
        if (same == -1 && !delta_path) faulted[rows.size()] = weight.clone();
        changes_of.push_back(std::move(changes));
        rows.push_back(row);
      }
      std::memcpy(weight.data<float>(), quantized.data<float>(), weight.nbytes());
      std::vector<PointScore> scores(rows.size());
      std::vector<int64_t> todo;
      for (size_t i = 0; i < rows.size(); ++i)
        if (same_as[i] == -1) todo.push_back(static_cast<int64_t>(i));
      const int64_t count = static_cast<int64_t>(todo.size());
      if (!delta_path) {
        for (size_t b = 0; b < nb; ++b)
          for (int64_t i : todo) {
            std::memcpy(weight.data<float>(), faulted[static_cast<size_t>(i)].data<float>(), weight.nbytes());
            scores[static_cast<size_t>(i)].add(run_stages(stages, s, stages.size(), inputs[b]), batches.labels[b]);
          }
        std::memcpy(weight.data<float>(), quantized.data<float>(), weight.nbytes());
      } else {
        // The points of a pass only read the model and the clean activations, so they run side
        // by side, one per thread (the kernels inside then run single-threaded). A point's values
        // do not depend on the thread that runs it, so rows are the same for any count.
        for (size_t b = 0; b < nb; ++b) {
#pragma omp parallel for schedule(dynamic, 1)
          for (int64_t t = 0; t < count; ++t) {
            const size_t i = static_cast<size_t>(todo[static_cast<size_t>(t)]);
            NoGradGuard thread_no_grad;  // gradient mode is per thread
            scores[i].add(delta_point_logits(stages, clean, b, layer, plans[i]), batches.labels[b]);
          }
        }
      }
      for (size_t i = 0; i < rows.size(); ++i) {
        const PointScore& score = same_as[i] == -2 ? clean.baseline()
                                  : same_as[i] >= 0 ? scores[static_cast<size_t>(same_as[i])]
                                                    : scores[i];
        score.fill(rows[i]);
        on_row(rows[i]);
      }
    }
    g = end;
  }
  restore_all();
  model.train(was_training);
}

}  // namespace stuckat
