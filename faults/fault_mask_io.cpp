// Fault masks <-> safetensors tensors.
#include "faults/fault_mask_io.h"

#include <cstring>

#include <fmt/format.h>

#include "faults/faulty_model.h"
#include "base/error.h"
#include "framework/io/safetensors.h"

namespace stuckat {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

bool is_fault_mask_name(const std::string& name) {
  return starts_with(name, kFaultAndPrefix) || starts_with(name, kFaultOrPrefix);
}

NamedTensorList fault_mask_tensors(const std::string& layer, const FaultMap& map) {
  const int64_t n = map.size();
  Tensor a = Tensor::empty({n}, DType::I16), o = Tensor::empty({n}, DType::I16);
  std::memcpy(a.raw_data(), map.and_mask.data(), static_cast<size_t>(n) * 2);
  std::memcpy(o.raw_data(), map.or_mask.data(), static_cast<size_t>(n) * 2);
  return {{kFaultAndPrefix + layer, a}, {kFaultOrPrefix + layer, o}};
}

LayerFaultMaps read_fault_masks(const std::string& path, const Module& model, const std::string& flag) {
  const SafetensorsContent content = read_safetensors(path);
  std::map<std::string, int64_t> numel;  // faultable layer -> weights
  std::vector<std::string> names;
  for (const auto& [name, t] : model.named_parameters())
    for (const std::string& layer : faultable_layer_names(model))
      if (name == layer + ".weight") {
        numel[layer] = t.numel();
        names.push_back(layer);
      }
  LayerFaultMaps maps;
  std::map<std::string, int> seen;  // layer -> bit 1 = and, bit 2 = or
  for (const auto& [name, t] : content.tensors) {
    if (!is_fault_mask_name(name)) continue;
    const bool is_and = starts_with(name, kFaultAndPrefix);
    const std::string layer = name.substr(std::strlen(is_and ? kFaultAndPrefix : kFaultOrPrefix));
    auto it = numel.find(layer);
    if (it == numel.end())
      throw_input_error("{} {}: tensor {} names layer '{}', which is not a conv or linear layer of this model "
                        "(expected one of {})",
                        flag, path, name, layer, fmt::join(names, ", "));
    if (t.dtype() != DType::I16)
      throw_input_error("{} {}: tensor {} is {}, expected I16 (the 16-bit mask words bit-cast, e.g. numpy "
                        "uint16 .view(int16))", flag, path, name,
                        dtype_name(t.dtype()));
    if (t.numel() != it->second)
      throw_input_error("{} {}: tensor {} has {} entries, but layer {} has {} weights", flag, path, name, t.numel(),
                        layer, it->second);
    FaultMap& map = maps.try_emplace(layer, it->second).first->second;
    std::memcpy(is_and ? map.and_mask.data() : map.or_mask.data(), t.contiguous().raw_data(),
                static_cast<size_t>(it->second) * 2);
    seen[layer] |= is_and ? 1 : 2;
  }
  if (maps.empty())
    throw_input_error("{} {}: the file holds no fault masks (expected tensors fault_and.<layer> and fault_or.<layer>)",
                      flag, path);
  for (const auto& [layer, bits] : seen)
    if (bits != 3)
      throw_input_error("{} {}: layer {} has {} but not {}", flag, path, layer,
                        bits == 1 ? kFaultAndPrefix + layer : kFaultOrPrefix + layer,
                        bits == 1 ? kFaultOrPrefix + layer : kFaultAndPrefix + layer);
  for (auto& [layer, map] : maps)
    for (int64_t i = 0; i < map.size(); ++i) map.and_mask[i] = static_cast<uint16_t>(map.and_mask[i] | map.or_mask[i]);
  return maps;
}

void stack_fault_map(FaultMap& base, const FaultMap& later) {
  STUCKAT_CHECK(base.size() == later.size(), "stacking fault maps of {} and {} weights", base.size(), later.size());
  for (int64_t i = 0; i < base.size(); ++i) {
    const uint16_t a1 = base.and_mask[i], o1 = base.or_mask[i], a2 = later.and_mask[i], o2 = later.or_mask[i];
    base.and_mask[i] = static_cast<uint16_t>((a1 & a2) | o2);
    base.or_mask[i] = static_cast<uint16_t>((o1 & a2) | o2);
  }
}

}  // namespace stuckat
