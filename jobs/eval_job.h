// The `eval` job: a checkpoint (or an ONNX model) evaluated on the test split, optionally with its conv/linear
// weights quantised to 16-bit words and stuck-at faults injected (from specs and/or a mask file).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/device.h"
#include "framework/data/dataset.h"

namespace stuckat::jobs {

struct EvalOptions {
  DataOptions data;
  Device device = Device::CPU;
  std::string checkpoint;
  std::string model;  // empty: from the checkpoint
  int64_t batch = 1000;
  std::string quant;  // empty: the checkpoint's recorded format
  std::vector<std::string> faults;
  std::string fault_masks;  // a safetensors file of fault_and./fault_or. masks
  std::string save_logits;  // a .npy file for the outputs (images x classes, test-set order)
};

// One JSON object: model, data, images, test_acc, test_loss, images_per_s (+ density for a pruned
// checkpoint; quant, faults and per-layer fault counts when faults are injected). Throws
// InputError for bad options or files.
nlohmann::json run_evaluation(const EvalOptions& options);

}  // namespace stuckat::jobs
