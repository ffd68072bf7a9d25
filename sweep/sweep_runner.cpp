// The sweep runner: prefix reuse per faulted layer and several fault configurations per pass.
// The CPU path is here; the model-copy (GPU) path is sweep_copy_path.cpp.
#include "sweep/sweep_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "faults/faulty_model.h"
#include "sweep/sweep_delta.h"
#include "sweep/sweep_copy_path.h"
#include "sweep/sweep_trace.h"
#include "sweep/weight_changes_op.h"
#include "base/weight_format.h"
#include "framework/autograd.h"
#include "base/error.h"
#include "framework/nn/layers.h"
#include "framework/ops.h"
#include "kernels/cuda/profile.h"

namespace stuckat::sweep {
namespace {


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

// One batch of the test set, as TestBatches.
TestBatches one_batch(const TestBatches& batches, size_t b) {
  TestBatches one;
  one.images = {batches.images[b]};
  one.labels = {batches.labels[b]};
  return one;
}

// A layer faulted by some point of a wave. Between points its parameter holds its clean words.
struct WaveLayer {
  Tensor weight;     // the model's parameter
  Tensor quantized;  // its clean words, decoded
  DeltaLayer L;      // where its points start (L.stage) and how
  bool delta_path = false;
  std::vector<size_t> points;  // its scored points in the wave, to find repeated changes
};

// What the last wave measured, to size the next: the seconds its points took over the test set,
// and how many points it held.
struct WavePace {
  double points_s = 0;
  size_t points = 0;
};

// A point of a wave.
struct WavePoint {
  SweepRow row;
  size_t layer = 0;
  int64_t same_as = -1;  // -1: scored; -2: no weight changed (scores as the baseline); else an earlier point of the wave
  std::vector<WeightChange> changes;
  DeltaPoint plan;  // delta path
  // Other layers: the faulted words where they differ from the clean ones (swapped in per batch).
  std::vector<std::pair<int64_t, float>> words;
  PointScore score;
  int64_t bytes() const {
    int64_t b = static_cast<int64_t>((changes.size() + plan.changes.size() + plan.sub_changes.size()) * sizeof(WeightChange) +
                                     words.size() * sizeof(words[0]));
    return b + (plan.next_weight.defined() ? static_cast<int64_t>(plan.next_weight.nbytes()) : 0);
  }
};

// Runs points[first, ...) of one format (the model's layers hold its clean words) as one wave:
// points are planned (faults drawn, changed weights, channels) until `limit`, or until their plans
// hold options.chunk_bytes; then for each test batch the clean pass on it (its activations in
// blocks that the next batch reuses: a 10k-image cache of them would be hundreds of MB of fresh
// memory, and first touches cost more than the arithmetic on a virtual machine) and every point
// on it, the points side by side on the threads. Rows go out in order at the end. first_wave: the
// sweep's first (its first clean pass may run cold; see below). Returns the index after the wave's
// last point. pace: the previous wave's measurements (none before the first), replaced by this one's.
size_t run_wave(Module& model, const std::string& model_name, const std::vector<ForwardStage>& stages,
                const std::map<std::string, size_t>& stage_of, std::map<std::string, Tensor>& weight_of,
                std::map<std::string, Tensor>& clean_of, const TestBatches& batches, const SweepGrid& grid,
                const std::vector<int64_t>& points, size_t first, size_t limit, bool first_wave,
                const SweepRunOptions& options, const std::function<void(const SweepRow&)>& on_row, WavePace& pace) {
  const WeightFormat format = parse_weight_format(sweep_point(grid, points[first]).format);
  // The shallowest stage any point may start from: the clean activations before it are not kept.
  size_t first_kept = stages.empty() ? 0 : stages.size() - 1;
  for (size_t i = first; i < limit; ++i) {
    const SweepPoint p = sweep_point(grid, points[i]);
    if (p.baseline) continue;
    const auto it = stage_of.find(p.layer);
    first_kept = std::min(first_kept, it == stage_of.end() ? size_t(0) : it->second);
  }
  const size_t nb = batches.images.size();
  StepTimes times;  // STUCKAT_SWEEP_TRACE: host ms per step, printed when the wave ends
  CleanPass clean;
  // Rows go out when a wave ends, so a wave is kept to about wave_seconds: a point costs at most
  // a clean pass over the test set (it reruns the network from its layer on, usually much less),
  // so at most wave_seconds / (that pass's time, estimated from the first batch's) points; at least
  // kMinWavePoints, over which the wave's own clean passes are spread. Where a clean pass is long
  // (VGG11 on 10k images: ~17 s, so 8 points a minute), those passes would be a quarter of the
  // sweep: once a wave has measured what its points cost, a wave takes enough points for its clean
  // passes to be at most a tenth of it (the wave then lasts about ten clean passes), up to
  // kMaxPacedPoints, so that a wave whose points turn out dearer than the last wave's (a point
  // costs at most a pass) still ends within that many passes.
  constexpr size_t kMinWavePoints = 8;
  constexpr double kPointsPerCleanTime = 9, kMaxPacedPoints = 32;
  auto points_within = [&](double batch_s) {
    if (!(batch_s > 0) || !(options.wave_seconds > 0)) return limit - first;
    const double pass_s = batch_s * static_cast<double>(nb);
    double fit = std::floor(options.wave_seconds / pass_s);
    if (pace.points > 0 && pace.points_s > 0) {
      const double paced = std::floor(kPointsPerCleanTime * pass_s / (pace.points_s / static_cast<double>(pace.points)));
      fit = std::max(fit, std::min(paced, kMaxPacedPoints));
    }
    return std::max(kMinWavePoints, static_cast<size_t>(std::min(1e9, fit)));
  };
  double batch_s = 0;
  for (int pass = 0; pass < 2; ++pass) {
    // The sweep's first pass runs on fresh memory and can take several times a warm one (first
    // touches cost more than the arithmetic on a virtual machine: 27-139 ms against 11-22 for
    // LeNet-5's 1000 images); where its time would end the wave early, a second pass, warm, gives
    // the estimate. Later waves reuse the blocks.
    if (pass == 1 && (!first_wave || points_within(batch_s) >= limit - first)) break;
    const auto t = times.time(StepTimes::kCleanPass);
    STUCKAT_GPU_PROFILE("sweep.clean_pass");
    const auto t0 = std::chrono::steady_clock::now();
    clean = CleanPass();  // the first pass's blocks go back to the allocator, for the second
    clean = clean_pass(stages, one_batch(batches, 0), options.prefix_cache_bytes, false, first_kept);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    batch_s = pass == 0 ? s : std::min(batch_s, s);
  }
  const std::vector<bool> keep = clean.kept;  // every batch keeps what the first kept
  limit = std::min(limit, first + points_within(batch_s));

  std::vector<WavePoint> wave;
  std::vector<WaveLayer> layers;
  std::map<std::string, size_t> layer_index;
  int64_t plan_bytes = 0;
  size_t end = first;
  {
    const auto t = times.time(StepTimes::kPlan);
    for (; end < limit && (end == first || plan_bytes < options.chunk_bytes); ++end) {
      STUCKAT_GPU_PROFILE("sweep.fault_point (CPU)");
      WavePoint wp;
      wp.row.point = sweep_point(grid, points[end]);
      wp.row.model = model_name;
      if (wp.row.point.baseline) {
        wp.same_as = -2;
        wave.push_back(std::move(wp));
        continue;
      }
      const std::string& name = wp.row.point.layer;
      STUCKAT_CHECK(stage_of.count(name) && weight_of.count(name), "layer {} is not read by any forward stage of the model",
                    name);
      if (!layer_index.count(name)) {
        WaveLayer l;
        l.weight = weight_of[name];
        l.quantized = l.weight.clone();
        l.L = delta_layer(stages, clean.start_for(stage_of.at(name)), l.weight, clean);
        l.delta_path = l.L.conv || l.L.lin;
        layer_index[name] = layers.size();
        layers.push_back(std::move(l));
      }
      wp.layer = layer_index[name];
      WaveLayer& l = layers[wp.layer];
      Tensor& weight = l.weight;
      std::memcpy(weight.data<float>(), clean_of[name].data<float>(), weight.nbytes());  // the snapshot must be unquantized
      FaultInjection inject(model, format, {point_spec(wp.row.point)});
      const std::vector<LayerFaultStats> stats = inject.apply();
      STUCKAT_CHECK(stats.size() == 1, "a sweep point faults exactly one layer");
      wp.row.faulty_weights = stats[0].faulty;
      wp.row.changed_weights = stats[0].changed;
      wp.changes = weight_changes(l.quantized.data<float>(), weight.data<float>(), weight.numel());
      // A point's score depends only on its changed weights: none changed is the baseline, and the
      // same changes as an earlier point of the wave give that point's score.
      wp.same_as = wp.changes.empty() ? -2 : -1;
      for (size_t j : l.points)
        if (wp.same_as == -1 && same_changes(wp.changes, wave[j].changes)) wp.same_as = static_cast<int64_t>(j);
      if (wp.same_as == -1) {
        if (l.delta_path) {
          wp.plan = plan_delta_point(l.L, wp.changes, weight.numel());
        } else {
          for (const WeightChange& c : wp.changes) wp.words.emplace_back(c.index, weight.data<float>()[c.index]);
        }
        l.points.push_back(wave.size());
      }
      std::memcpy(weight.data<float>(), l.quantized.data<float>(), weight.nbytes());
      plan_bytes += wp.bytes();
      wave.push_back(std::move(wp));
    }
  }
  std::vector<size_t> delta_points, word_points;
  for (size_t i = 0; i < wave.size(); ++i)
    if (wave[i].same_as == -1) (layers[wave[i].layer].delta_path ? delta_points : word_points).push_back(i);
  const int64_t count = static_cast<int64_t>(delta_points.size());
  PointScore baseline;
  std::vector<double> point_ms(times.on() ? wave.size() : 0, 0.0);  // thread time per point (trace)
  auto seconds_since = [](std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  WavePace measured;  // this wave's, for the next
  measured.points = wave.size();
  for (size_t b = 0; b < nb; ++b) {
    if (b > 0) {
      const auto t = times.time(StepTimes::kCleanPass);
      STUCKAT_GPU_PROFILE("sweep.clean_pass");
      clean = CleanPass();  // its blocks go back to the allocator, for this batch's pass
      clean = clean_pass(stages, one_batch(batches, b), options.prefix_cache_bytes, false, first_kept, &keep);
    }
    const auto points_start = std::chrono::steady_clock::now();
    baseline.merge(clean.baseline());
    const Tensor& labels = batches.labels[b];
    const auto t = times.time(StepTimes::kLaunch);
    // The points only read the model and the clean activations, so they run side by side, one per
    // thread (the kernels inside then run single-threaded). A point's values do not depend on the
    // thread that runs it, so rows are the same for any count.
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t k = 0; k < count; ++k) {
      const size_t i = delta_points[static_cast<size_t>(k)];
      WavePoint& wp = wave[i];
      NoGradGuard thread_no_grad;  // gradient mode is per thread
      const auto t0 = std::chrono::steady_clock::now();
      wp.score.add(delta_point_logits(stages, clean, 0, layers[wp.layer].L, wp.plan), labels);
      if (!point_ms.empty()) point_ms[i] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    // Faulted words swapped into the model, one point at a time.
    for (size_t i : word_points) {
      WavePoint& wp = wave[i];
      WaveLayer& l = layers[wp.layer];
      float* w = l.weight.data<float>();
      for (const auto& [index, value] : wp.words) w[index] = value;
      wp.score.add(run_stages(stages, l.L.stage, stages.size(), clean.input[l.L.stage][0]), labels);
      for (const auto& [index, value] : wp.words) w[index] = l.quantized.data<float>()[index];
    }
    measured.points_s += seconds_since(points_start);
  }
  pace = measured;
  if (times.on()) {
    std::map<std::string, std::pair<int, double>> per_layer;  // scored points, their thread ms
    for (size_t i = 0; i < wave.size(); ++i)
      if (wave[i].same_as == -1) {
        auto& e = per_layer[wave[i].row.point.layer];
        ++e.first;
        e.second += point_ms.empty() ? 0.0 : point_ms[i];
      }
    std::fprintf(stderr, "sweep trace: wave of %zu points on %zu batches; thread ms of the delta points per layer:", wave.size(), nb);
    for (const auto& [name, e] : per_layer) std::fprintf(stderr, " %s %d points %.1f", name.c_str(), e.first, e.second);
    std::fprintf(stderr, "\n");
  }
  const auto t_emit = times.time(StepTimes::kEmit);
  for (WavePoint& wp : wave) {
    const PointScore& score = wp.same_as == -2 ? baseline : wp.same_as >= 0 ? wave[static_cast<size_t>(wp.same_as)].score : wp.score;
    score.fill(wp.row);
    on_row(wp.row);
  }
  if (options.rows_done) options.rows_done();
  return end;
}

}  // namespace

void run_sweep(Module& model, const std::string& model_name, const Dataset& test, const SweepGrid& grid,
               const std::vector<int64_t>& points, const SweepRunOptions& options,
               const std::function<void(const SweepRow&)>& on_row) {
  STUCKAT_CHECK(options.batch >= 1 && options.configs_per_pass >= 1 && options.wave_points >= 1,
                "sweep batch, configs per pass and wave points must be >= 1");
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

  // Waves (run_wave): up to wave_points consecutive points of one format, evaluated batch by batch.
  size_t g = 0;
  WavePace pace;  // of the last wave of the same format (each format starts again at the first layer)
  std::string last_format;
  while (g < points.size()) {
    const std::string format_name = sweep_point(grid, points[g]).format;
    if (format_name != last_format) pace = WavePace();
    last_format = format_name;
    size_t limit = g;
    while (limit < points.size() && limit - g < static_cast<size_t>(options.wave_points) &&
           sweep_point(grid, points[limit]).format == format_name)
      ++limit;
    // Every layer holds its clean words.
    restore_all();
    FaultInjection quantize_all(model, parse_weight_format(format_name), {}, true);
    quantize_all.apply();
    g = run_wave(model, model_name, stages, stage_of, weight_of, clean_of, batches, grid, points, g, limit, g == 0, options,
                 on_row, pace);
  }
  restore_all();
  model.train(was_training);
}

}  // namespace stuckat::sweep
