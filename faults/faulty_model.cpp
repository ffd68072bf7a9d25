// Fault maps for a model's layers and their in-place application for evaluation.
#include "faults/faulty_model.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "faults/weight_codec.h"
#include "base/error.h"

namespace stuckat {
namespace {

constexpr const char* kWeightSuffix = ".weight";

bool is_faultable(const std::string& name, const Tensor& t) {
  const size_t k = std::strlen(kWeightSuffix);
  return t.dim() >= 2 && name.size() > k && name.compare(name.size() - k, k, kWeightSuffix) == 0;
}

std::string layer_of(const std::string& param_name) {
  return param_name.substr(0, param_name.size() - std::strlen(kWeightSuffix));
}

}  // namespace

std::vector<std::string> faultable_layer_names(const Module& model) {
  std::vector<std::string> names;
  for (const auto& [name, t] : model.named_parameters())
    if (is_faultable(name, t)) names.push_back(layer_of(name));
  return names;
}

FaultInjection::FaultInjection(Module& model, const WeightFormat& format, const std::vector<FaultSpec>& specs,
                               bool quantize_all_layers, const LayerFaultMaps& masks)
    : format_(format) {
  if (format.is_none() && !(specs.empty() && masks.empty()))
    throw_input_error("--faults/--fault-masks need 16-bit weight words, but --quant is none; choose a format such as "
                      "--quant q4.11");
  const std::vector<std::string> valid = faultable_layer_names(model);
  for (const FaultSpec& s : specs)
    if (s.layer != "all" && std::find(valid.begin(), valid.end(), s.layer) == valid.end())
      throw_input_error("--faults layer={} is not a conv or linear layer of this model; expected all or one of {}", s.layer,
                        fmt::join(valid, ", "));

  for (const auto& [param_name, weight] : model.named_parameters()) {
    if (!is_faultable(param_name, weight)) continue;
    const std::string name = layer_of(param_name);
    const auto from_file = masks.find(name);
    bool targeted = from_file != masks.end();
    for (const FaultSpec& s : specs) targeted = targeted || s.layer == "all" || s.layer == name;
    if (!targeted && !(quantize_all_layers && !format.is_none())) continue;
    STUCKAT_CHECK(weight.device() == Device::CPU && weight.dtype() == DType::F32 && weight.is_contiguous(),
                  "fault injection needs contiguous f32 CPU weights; move the model to the CPU first ({})", param_name);
    Layer layer{name, weight, weight.clone(), FaultMap(weight.numel())};
    if (from_file != masks.end()) {
      STUCKAT_CHECK(from_file->second.size() == weight.numel(), "fault masks for {}: {} entries, {} weights", name,
                    from_file->second.size(), weight.numel());
      layer.map = from_file->second;
    }
    const float* w = layer.clean.data<float>();
    for (const FaultSpec& s : specs)
      if (s.layer == "all" || s.layer == name)
        add_faults(make_fault_draw(s, name), 0, weight.numel(), w, layer.map.and_mask.data(), layer.map.or_mask.data());
    layers_.push_back(std::move(layer));
  }
}

std::vector<LayerFaultStats> FaultInjection::apply() {
  std::vector<LayerFaultStats> stats;
  for (Layer& layer : layers_) {
    const int64_t n = layer.weight.numel();
    const float* clean = layer.clean.data<float>();
    LayerFaultStats st;
    st.layer = layer.name;
    st.format = resolve_layer_format(format_, clean, n);
    st.weights = n;
    std::vector<uint16_t> words(static_cast<size_t>(n));
    st.saturated = encode_weights(clean, words.data(), n, st.format);
    const uint16_t* and_mask = layer.map.and_mask.data();
    const uint16_t* or_mask = layer.map.or_mask.data();
    int64_t faulty = 0, changed = 0;
#pragma omp parallel for schedule(static) reduction(+ : faulty, changed) if (n >= (1 << 15))
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t faulted = static_cast<uint16_t>((words[i] & and_mask[i]) | or_mask[i]);
      faulty += (and_mask[i] != 0xFFFF || or_mask[i] != 0) ? 1 : 0;
      changed += faulted != words[i] ? 1 : 0;
      words[i] = faulted;
    }
    st.faulty = faulty;
    st.changed = changed;
    decode_weights(words.data(), layer.weight.data<float>(), n, st.format);
    stats.push_back(st);
  }
  return stats;
}

void FaultInjection::restore() {
  for (Layer& layer : layers_)
    std::memcpy(layer.weight.data<float>(), layer.clean.data<float>(), layer.clean.nbytes());
}

}  // namespace stuckat
