#include "jobs/model_source.h"

#include <filesystem>

#include "base/error.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "models/builtin_graph.h"
#include "models/graph_model.h"
#include "onnx/onnx_import.h"

namespace stuckat::jobs {
namespace {

std::shared_ptr<GraphSpec> import_graph(const std::string& path) {
  // Import once (read, fold, name the layer weights, check the shapes); keep the spec.
  std::shared_ptr<GraphModel> model = import_onnx(path);
  return std::make_shared<GraphSpec>(model->spec());
}

// A copy whose constants are this copy's own tensors (models built from one spec must not share weights).
GraphSpec cloned(const GraphSpec& spec) {
  GraphSpec copy = spec;
  for (auto& c : copy.constants) c.second = c.second.clone();
  return copy;
}

}  // namespace

ModelSource ModelSource::from_checkpoint(const std::string& path, const std::string& model_flag) {
  ModelSource s;
  s.checkpoint_ = path;
  if (is_onnx_path(path)) {
    if (!model_flag.empty()) throw_input_error("--model does not apply to an ONNX file ({} holds its architecture)", path);
    s.graph_ = import_graph(path);
    s.name_ = std::filesystem::path(path).stem().string();
    return s;
  }
  s.metadata_ = read_checkpoint_metadata(path);
  const auto graph = s.metadata_.find("graph");
  if (graph != s.metadata_.end()) {
    if (!model_flag.empty()) throw_input_error("--model does not apply to {}: it records an imported network's graph", path);
    const nlohmann::json j = nlohmann::json::parse(graph->second, nullptr, false);
    if (j.is_discarded()) throw_input_error("{}: metadata 'graph' is not JSON", path);
    const SafetensorsContent content = read_safetensors(path);
    s.graph_ = std::make_shared<GraphSpec>(graph_spec_from_json(j, path, content.tensors));
    GraphModel check(cloned(*s.graph_), path);  // the recorded graph must still build
    s.name_ = checkpoint_model_name(path, "");
    return s;
  }
  s.spec_ = parse_model_name(checkpoint_model_name(path, model_flag));
  s.name_ = s.spec_.name();
  const auto init = s.metadata_.find("weight_init");
  if (init != s.metadata_.end()) s.weight_init_ = parse_weight_init(init->second, path + ": metadata 'weight_init'");
  return s;
}

ModelSource ModelSource::from_model_flag(const std::string& model_flag) {
  if (is_onnx_path(model_flag)) {
    ModelSource s;
    s.graph_ = import_graph(model_flag);
    s.name_ = std::filesystem::path(model_flag).stem().string();
    return s;
  }
  ModelSource s;
  s.spec_ = parse_model_name(model_flag);
  s.name_ = s.spec_.name();
  return s;
}

std::shared_ptr<Module> ModelSource::build(uint64_t seed) const {
  if (graph_) return std::make_shared<GraphModel>(cloned(*graph_), name_);
  return make_model(spec_, seed, weight_init_);
}

std::shared_ptr<Module> ModelSource::load() const {
  const bool from_checkpoint = !checkpoint_.empty() && !is_onnx_path(checkpoint_);
  // A checkpoint overwrites every tensor of a built-in model (or is refused): skip the initial draws.
  std::shared_ptr<Module> model = from_checkpoint && !graph_ ? make_model(spec_, 0, WeightInit::Unset) : build(0);
  if (from_checkpoint) load_checkpoint(checkpoint_, *model, name_);
  return model;
}

void ModelSource::check_input(int64_t c, int64_t h, int64_t w, const std::string& data_name) const {
  if (!graph_) return check_model_input(spec_, c, h, w, data_name);
  const Shape& s = graph_->inputs.at(0).shape;
  const Shape got{c, h, w};
  bool fits = s.size() == 4;
  for (size_t i = 1; fits && i < 4; ++i) fits = s[i] < 0 || s[i] == got[i - 1];
  if (!fits)
    throw_input_error("model {} expects inputs of shape {} but --data {} gives {}x{}x{} images (--resize and --channels "
                      "adapt them)",
                      name_, shape_str(s), data_name, c, h, w);
}

GraphSpec ModelSource::graph(const Module& model) const {
  if (graph_) return *graph_;
  return builtin_graph(spec_, model);
}

std::map<std::string, std::string> ModelSource::checkpoint_metadata() const {
  std::map<std::string, std::string> meta{{"model", name_}};
  if (graph_) meta["graph"] = graph_spec_to_json(*graph_).dump();
  else meta["weight_init"] = weight_init_name(weight_init_);
  return meta;
}

}  // namespace stuckat::jobs
