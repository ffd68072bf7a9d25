// The `export` job: a checkpoint (built-in or imported network, trained, fault-aware-trained or
// pruned) written as an ONNX model; with --faults the stuck-at faults are injected into the
// 16-bit weights first, so the file carries the faulty chip's weights.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace stuckat::jobs {

struct ExportOptions {
  std::string checkpoint;  // a .safetensors checkpoint (or a .onnx model, re-exported)
  std::string model;       // empty: from the checkpoint
  std::string onnx;        // the file to write
  std::string quant;       // empty: the checkpoint's recorded format (needed with faults)
  std::vector<std::string> faults;
};

// One JSON object: model, onnx, nodes, initializers (+ quant, faults and per-layer counts when
// faults were injected). Throws InputError for bad options or files.
nlohmann::json run_export(const ExportOptions& options);

}  // namespace stuckat::jobs
