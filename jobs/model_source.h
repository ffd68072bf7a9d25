// Where a command's network comes from, in one place: a built-in architecture by name, a stuckat
// checkpoint of one, an ONNX file (.onnx: architecture and weights), or a stuckat checkpoint of
// an imported network (its graph recorded in the metadata, so no ONNX file is needed beside it).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "framework/nn/module.h"
#include "models/graph_spec.h"
#include "models/model_zoo.h"

namespace stuckat::jobs {

class ModelSource {
 public:
  // `path` is --checkpoint (a .safetensors checkpoint or a .onnx model); `model_flag` is --model
  // (empty: the checkpoint's recorded architecture). Reads the metadata (and an ONNX file whole);
  // throws InputError naming the file.
  static ModelSource from_checkpoint(const std::string& path, const std::string& model_flag);
  // --model NAME (a built-in architecture) or --model FILE.onnx, for commands that start a model.
  static ModelSource from_model_flag(const std::string& model_flag);

  // "lenet5", "vgg11_bn", ...; an imported network: its file's name without .onnx.
  const std::string& name() const { return name_; }
  bool imported() const { return graph_ != nullptr; }
  // The checkpoint's metadata (empty for an ONNX file or a built-in architecture).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // A new model: a built-in one initialised from `seed` by weight_init(); an imported one with
  // the weights it was imported (or last saved) with (seed unused).
  std::shared_ptr<Module> build(uint64_t seed) const;
  // How build() initialises a built-in model: a checkpoint's recorded "weight_init" (runs before
  // it was recorded: default), else set by `train --weight-init`.
  WeightInit weight_init() const { return weight_init_; }
  void set_weight_init(WeightInit init) { weight_init_ = init; }
  // build() with the checkpoint's weights loaded (an ONNX file's own weights).
  std::shared_ptr<Module> load() const;
  // Throws InputError when images of shape (c, h, w) from `data_name` cannot feed the model.
  void check_input(int64_t c, int64_t h, int64_t w, const std::string& data_name) const;
  // The model as a graph of ONNX ops: an imported network's own, a built-in one's through
  // builtin_graph (its constants copied from `model`).
  GraphSpec graph(const Module& model) const;
  // What a checkpoint of this model records: "model" and "weight_init", or for an imported one
  // "model" and "graph".
  std::map<std::string, std::string> checkpoint_metadata() const;

 private:
  std::string name_, checkpoint_;
  ModelSpec spec_;                     // built-in architectures
  WeightInit weight_init_ = WeightInit::Default;
  std::shared_ptr<GraphSpec> graph_;   // imported networks (constants hold the weights)
  std::map<std::string, std::string> metadata_;
};

}  // namespace stuckat::jobs
