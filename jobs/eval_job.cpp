// The `eval` job (jobs/eval_job.h). loads a checkpoint (the architecture comes from its metadata unless --model
// is given) and prints one JSON object with the test accuracy and loss. With --faults (and/or
// --quant) the conv/linear weights are quantised to the checkpoint's recorded format (or --quant)
// and the stuck-at faults are injected before evaluating; --fault-masks F injects masks read from F
// (faults/fault_mask_io.h), with --faults stacked on top. A pruned checkpoint's masks are read
// too: the output gains "density", and with --faults each layer's entry counts the pruned cells
// that a stuck-at-1 bit makes nonzero (pruning/pruned_cell_faults.h).
#include "jobs/eval_job.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "faults/fault_mask_io.h"
#include "faults/fault_spec.h"
#include "faults/faulty_model.h"
#include "base/weight_format.h"
#include "framework/io/checkpoint.h"
#include "framework/io/npy_file.h"
#include "jobs/model_source.h"
#include "framework/train/trainer.h"
#include "models/model_zoo.h"
#include "onnx/onnx_import.h"
#include "pruning/prune_mask_io.h"
#include "pruning/pruned_cell_faults.h"

namespace stuckat::jobs {

nlohmann::json run_evaluation(const EvalOptions& f) {
  const Device device = f.device;
  if (f.batch < 1) throw_input_error("--batch must be >= 1, got {}", f.batch);
  const ModelSource source = ModelSource::from_checkpoint(f.checkpoint, f.model);
  const std::map<std::string, std::string>& meta = source.metadata();
  DataOptions data_options = f.data;
  data_options.test_only = true;  // eval reads only the test split
  DataSplit data = load_data(data_options);
  const Tensor& im = data.test.images;
  source.check_input(im.size(1), im.size(2), im.size(3), data.test.name);
  std::vector<FaultSpec> specs;
  for (const std::string& text : f.faults) specs.push_back(parse_fault_spec(text));
  std::string quant = f.quant;
  if (quant.empty() && !(specs.empty() && f.fault_masks.empty())) {
    auto it = meta.find("quant");
    if (it == meta.end() || it->second == "none")
      throw_input_error("--faults/--fault-masks need the weights' 16-bit format, but checkpoint {} records no quantization (it was "
                        "trained without --quant); pass --quant, e.g. --quant q4.11",
                        f.checkpoint);
    quant = it->second;
  }
  const WeightFormat format = parse_weight_format(quant.empty() ? "none" : quant);
  std::shared_ptr<Module> model = source.load();
  bool pruned = false;
  const PruneMasks masks = source.imported() && is_onnx_path(f.checkpoint) ? PruneMasks{} : read_prune_masks(f.checkpoint, *model, &pruned);
  nlohmann::json fault_stats = nlohmann::json::array();
  if (!format.is_none()) {
    LayerFaultMaps file_masks;
    if (!f.fault_masks.empty()) file_masks = read_fault_masks(f.fault_masks, *model, "--fault-masks");
    FaultInjection injection(*model, format, specs, /*quantize_all_layers=*/true, file_masks);
    const std::vector<LayerFaultStats> applied = injection.apply();
    for (size_t i = 0; i < applied.size(); ++i) {
      const LayerFaultStats& st = applied[i];
      nlohmann::json row = {{"layer", st.layer}, {"weights", st.weights}, {"faulty", st.faulty},
                            {"changed", st.changed}, {"saturated", st.saturated}};
      const LayerMask* m = pruned ? find_mask(masks, st.layer) : nullptr;
      if (m != nullptr) {
        const FaultMap& map = injection.layers()[i].map;
        row.update(pruned_cell_faults_json(count_pruned_cell_faults(m->keep.data(), map.and_mask.data(),
                                                                    map.or_mask.data(), m->total(), st.format)));
      }
      fault_stats.push_back(row);
    }
  }
  model->to(device);
  if (device != Device::CPU) data.test.to_device(device);
  Tensor logits;
  EpochStats st = evaluate(*model, data.test, f.batch, f.save_logits.empty() ? nullptr : &logits);
  if (!f.save_logits.empty()) write_npy(f.save_logits, logits, "--save-logits");
  nlohmann::json out = {{"model", source.name()},
                        {"data", data.test.name},
                        {"images", st.images},
                        {"test_acc", st.accuracy},
                        {"test_loss", st.loss},
                        {"images_per_s", st.seconds > 0 ? st.images / st.seconds : 0.0}};
  if (pruned) out["density"] = static_cast<double>(total_kept(masks)) / static_cast<double>(total_weights(masks));
  if (!format.is_none()) {
    out["quant"] = weight_format_name(format);
    out["faults"] = f.faults;
    if (!f.fault_masks.empty()) out["fault_masks"] = f.fault_masks;
    out["layers"] = fault_stats;
  }
  return out;
}

}  // namespace stuckat::jobs
