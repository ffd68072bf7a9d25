// The sweep runner: prefix reuse per faulted layer and several fault configurations per pass.
#include "faults/sweep_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "faults/faulty_model.h"
#include "faults/sweep_delta.h"
#include "faults/weight_format.h"
#include "framework/autograd.h"
#include "framework/error.h"
#include "framework/nn/layers.h"
#include "framework/ops.h"

namespace stuckat {
namespace {

struct TestBatches {
  std::vector<Tensor> images;  // (count, c, h, w) each
  std::vector<Tensor> labels;  // (count) i32
};

TestBatches split_test_set(const Dataset& test, int64_t batch) {
  STUCKAT_CHECK(test.images.device() == Device::CPU && test.images.is_contiguous() && test.labels.is_contiguous(),
                "the sweep's test set must be contiguous on the CPU");
  TestBatches b;
  const int64_t n = test.size();
  const int64_t per_image = n > 0 ? test.images.numel() / n : 0;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t count = std::min(batch, n - start);
    Shape shape = test.images.shape();
    shape[0] = count;
    Tensor im = Tensor::empty(shape);
    std::memcpy(im.data<float>(), test.images.data<float>() + start * per_image,
                static_cast<size_t>(count * per_image) * sizeof(float));
    Tensor lab = Tensor::empty({count}, DType::I32);
    std::memcpy(lab.data<int32_t>(), test.labels.data<int32_t>() + start, static_cast<size_t>(count) * sizeof(int32_t));
    b.images.push_back(im);
    b.labels.push_back(lab);
  }
  return b;
}

// Running loss/accuracy of one point, accumulated batch by batch in order (as evaluate() does).
struct PointScore {
  double loss_sum = 0;
  int64_t correct = 0, images = 0;
  bool finite = true;
  void add(const Tensor& logits, const Tensor& labels) {
    const float l = cross_entropy(logits, labels).item();
    if (!std::isfinite(l)) finite = false;
    loss_sum += static_cast<double>(l) * static_cast<double>(labels.numel());
    correct += count_correct(logits, labels);
    images += labels.numel();
  }
  void fill(SweepRow& row) const {
    row.test_loss = images > 0 ? loss_sum / static_cast<double>(images) : 0;
    row.test_acc = images > 0 ? static_cast<double>(correct) / static_cast<double>(images) : 0;
    row.nan = !finite;
  }
};

// Runs stages [first, last) on x.
Tensor run_stages(const std::vector<ForwardStage>& stages, size_t first, size_t last, Tensor x) {
  for (size_t k = first; k < last; ++k) x = stages[k].run(x);
  return x;
}

}  // namespace

void run_sweep(Module& model, const std::string& model_name, const Dataset& test, const SweepGrid& grid,
               const std::vector<int64_t>& points, const SweepRunOptions& options,
               const std::function<void(const SweepRow&)>& on_row) {
  STUCKAT_CHECK(options.batch >= 1 && options.configs_per_pass >= 1, "sweep batch and configs per pass must be >= 1");
  for (size_t i = 1; i < points.size(); ++i) STUCKAT_CHECK(points[i - 1] < points[i], "sweep points must ascend");
  if (points.empty()) return;
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();

  const std::vector<ForwardStage> stages = model.forward_stages();
  std::map<std::string, size_t> stage_of;
  for (size_t k = 0; k < stages.size(); ++k)
    for (const std::string& layer : stages[k].layers) stage_of.emplace(layer, k);
  std::map<std::string, Tensor> weight_of, clean_of;  // layer -> parameter, its original values
  const NamedTensorList params = model.named_parameters();
  for (const std::string& layer : faultable_layer_names(model))
    for (const auto& [name, t] : params)
      if (name == layer + ".weight") {
        weight_of[layer] = t;
        clean_of[layer] = t.clone();
      }
  auto restore_all = [&] {
    for (auto& [layer, w] : weight_of) std::memcpy(w.data<float>(), clean_of[layer].data<float>(), w.nbytes());
  };

  const TestBatches batches = split_test_set(test, options.batch);
  const size_t nb = batches.images.size();

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
    restore_all();
    FaultInjection quantize_all(model, format, {}, true);
    quantize_all.apply();

    if (first.baseline) {
      PointScore score;
      for (size_t b = 0; b < nb; ++b) score.add(run_stages(stages, 0, stages.size(), batches.images[b]), batches.labels[b]);
      SweepRow row;
      row.point = first;
      row.model = model_name;
      score.fill(row);
      on_row(row);
      g = end;
      continue;
    }

    STUCKAT_CHECK(stage_of.count(first.layer) && weight_of.count(first.layer),
                  "layer {} is not read by any forward stage of the model", first.layer);
    Tensor weight = weight_of[first.layer];
    const Tensor& clean = clean_of[first.layer];
    size_t s = stage_of[first.layer];
    // Activations entering stage s, computed once for every point of this group.
    std::vector<Tensor> prefix;
    int64_t prefix_bytes = 0;
    for (size_t b = 0; b < nb && s > 0; ++b) {
      prefix.push_back(run_stages(stages, 0, s, batches.images[b]));
      prefix_bytes += static_cast<int64_t>(prefix.back().nbytes());
      if (prefix_bytes > options.prefix_cache_bytes) {
        prefix.clear();
        s = 0;
      }
    }
    const std::vector<Tensor>& inputs = s > 0 ? prefix : batches.images;
    const Tensor quantized = weight.clone();  // the layer's clean words, decoded

    // Delta path: the stage begins with the faulted layer, so keep that layer's clean output and
    // add only the changed weights' contribution per point (sweep_delta.h).
    const ForwardStage& stage = stages[s];
    auto* conv = dynamic_cast<Conv2d*>(stage.layer);
    auto* lin = dynamic_cast<Linear*>(stage.layer);
    const bool delta_path = stage.after && ((conv && conv->weight.raw_data() == weight.raw_data()) ||
                                            (lin && lin->weight.raw_data() == weight.raw_data()));
    std::vector<Tensor> layer_out;
    if (delta_path)
      for (size_t b = 0; b < nb; ++b) {
        layer_out.push_back(stage.layer->forward(inputs[b]));
        STUCKAT_CHECK(inputs[b].is_contiguous() && layer_out[b].is_contiguous(),
                      "the sweep's delta path needs contiguous activations");
      }

    for (size_t c = g; c < end; c += static_cast<size_t>(options.configs_per_pass)) {
      const size_t c_end = std::min(end, c + static_cast<size_t>(options.configs_per_pass));
      std::vector<SweepRow> rows;
      std::vector<Tensor> faulted;
      std::vector<std::vector<WeightChange>> changes;
      for (size_t i = c; i < c_end; ++i) {
        SweepRow row;
        row.point = sweep_point(grid, points[i]);
        row.model = model_name;
        FaultSpec spec;
        spec.layer = row.point.layer;
        spec.bit = row.point.bit;
        spec.sa1_fraction = row.point.stuck;
        spec.stuck_text = std::to_string(row.point.stuck);
        spec.rate = row.point.rate;
        spec.seed = row.point.seed;
        std::memcpy(weight.data<float>(), clean.data<float>(), weight.nbytes());  // the snapshot must be unquantized
        FaultInjection inject(model, format, {spec});
        const std::vector<LayerFaultStats> stats = inject.apply();
        STUCKAT_CHECK(stats.size() == 1, "a sweep point faults exactly one layer");
        row.faulty_weights = stats[0].faulty;
        row.changed_weights = stats[0].changed;
        if (delta_path)
          changes.push_back(weight_changes(quantized.data<float>(), weight.data<float>(), weight.numel()));
        else
          faulted.push_back(weight.clone());
        rows.push_back(row);
      }
      std::memcpy(weight.data<float>(), quantized.data<float>(), weight.nbytes());
      std::vector<PointScore> scores(rows.size());
      if (!delta_path) {
        for (size_t b = 0; b < nb; ++b)
          for (size_t i = 0; i < rows.size(); ++i) {
            std::memcpy(weight.data<float>(), faulted[i].data<float>(), weight.nbytes());
            scores[i].add(run_stages(stages, s, stages.size(), inputs[b]), batches.labels[b]);
          }
      } else {
        // The points of a pass only read the model (weights, cached activations), so they run
        // side by side, one per thread (the kernels inside then run single-threaded). A point's
        // values do not depend on the thread that runs it, so rows are the same for any count.
        std::vector<Tensor> scratch(rows.size());  // reused across batches: no page faults per pass
        const int64_t count = static_cast<int64_t>(rows.size());
        for (size_t b = 0; b < nb; ++b) {
#pragma omp parallel for schedule(dynamic, 1)
          for (int64_t ii = 0; ii < count; ++ii) {
            const size_t i = static_cast<size_t>(ii);
            NoGradGuard thread_no_grad;  // gradient mode is per thread
            Tensor& y = scratch[i];
            if (!y.defined() || y.shape() != layer_out[b].shape()) y = Tensor::empty(layer_out[b].shape());
            std::memcpy(y.data<float>(), layer_out[b].data<float>(), y.nbytes());
            const Tensor& x = inputs[b];
            const Shape& ws = weight.shape();
            if (conv)
              add_conv2d_weight_changes(x.data<float>(), y.data<float>(), x.size(0), x.size(1), x.size(2), x.size(3),
                                        ws[0], ws[2], ws[3], conv->stride, conv->pad, y.size(2), y.size(3), changes[i]);
            else
              add_linear_weight_changes(x.data<float>(), y.data<float>(), x.size(0), ws[1], ws[0], changes[i]);
            scores[i].add(run_stages(stages, s + 1, stages.size(), stage.after(y)), batches.labels[b]);
          }
        }
      }
      for (size_t i = 0; i < rows.size(); ++i) {
        scores[i].fill(rows[i]);
        on_row(rows[i]);
      }
    }
    g = end;
  }
  restore_all();
  model.train(was_training);
}

}  // namespace stuckat
