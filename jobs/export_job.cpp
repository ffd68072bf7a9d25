#include "jobs/export_job.h"

#include "base/error.h"
#include "base/weight_format.h"
#include "faults/fault_spec.h"
#include "faults/faulty_model.h"
#include "framework/autograd.h"
#include "models/graph_model.h"
#include "jobs/model_source.h"
#include "onnx/onnx_export.h"
#include "onnx/onnx_import.h"

namespace stuckat::jobs {

nlohmann::json run_export(const ExportOptions& f) {
  if (f.onnx.empty()) throw_input_error("--onnx FILE is required (the .onnx file to write)");
  if (!is_onnx_path(f.onnx)) throw_input_error("--onnx {}: the file name must end in .onnx", f.onnx);
  const ModelSource source = ModelSource::from_checkpoint(f.checkpoint, f.model);
  std::shared_ptr<Module> model = source.load();
  nlohmann::json out = {{"model", source.name()}, {"onnx", f.onnx}};
  if (!f.faults.empty() || !f.quant.empty()) {
    std::string quant = f.quant;
    if (quant.empty()) {
      const auto it = source.metadata().find("quant");
      if (it == source.metadata().end() || it->second == "none")
        throw_input_error("--faults need the weights' 16-bit format, but {} records none; pass --quant, e.g. --quant q4.11",
                          f.checkpoint);
      quant = it->second;
    }
    std::vector<FaultSpec> specs;
    for (const std::string& text : f.faults) specs.push_back(parse_fault_spec(text));
    FaultInjection injection(*model, parse_weight_format(quant), specs, /*quantize_all_layers=*/true);
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerFaultStats& st : injection.apply())
      layers.push_back({{"layer", st.layer}, {"faulty", st.faulty}, {"changed", st.changed}});
    out["quant"] = quant;
    out["faults"] = f.faults;
    out["layers"] = layers;
  }
  const GraphSpec graph = source.graph(*model);
  // The outputs' shapes (ONNX requires them): one run of the graph itself on a batch of one.
  GraphSpec copy = graph;
  for (auto& c : copy.constants) c.second = c.second.clone();
  GraphModel check(std::move(copy), f.onnx);
  check.eval();
  std::vector<Tensor> inputs;
  for (const GraphInput& in : graph.inputs) {
    Shape s = in.shape;
    for (int64_t& d : s) d = d < 0 ? 1 : d;
    inputs.push_back(Tensor::zeros(s, in.dtype));
  }
  std::vector<Shape> shapes;
  {
    NoGradGuard no_grad;
    for (const Tensor& t : check.forward_all(inputs)) shapes.push_back(t.shape());
  }
  const bool batch_symbolic = !graph.inputs.empty() && !graph.inputs[0].shape.empty() && graph.inputs[0].shape[0] < 0;
  for (Shape& s : shapes)
    if (batch_symbolic && !s.empty()) s[0] = -1;
  export_onnx(graph, *model, shapes, f.onnx, "--onnx");
  out["nodes"] = graph.nodes.size();
  out["initializers"] = graph.constants.size();
  return out;
}

}  // namespace stuckat::jobs
