// Prune masks <-> named U8 tensors.
#include "pruning/prune_mask_io.h"

#include <cstring>

#include "base/error.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"

namespace stuckat {

NamedTensorList prune_mask_tensors(const PruneMasks& masks) {
  NamedTensorList out;
  for (const LayerMask& m : masks) {
    if (m.kept() == m.total()) continue;
    Tensor t = Tensor::empty(m.shape, DType::U8);
    std::memcpy(t.raw_data(), m.keep.data(), m.keep.size());
    out.emplace_back(kPruneMaskPrefix + m.layer, t);
  }
  return out;
}

PruneMasks prune_masks_from_tensors(const NamedTensorList& tensors, const Module& model, const std::string& source) {
  PruneMasks masks = dense_masks(model);
  const std::string prefix = kPruneMaskPrefix;
  for (const auto& [name, t] : tensors) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string layer = name.substr(prefix.size());
    LayerMask* m = nullptr;
    for (LayerMask& candidate : masks)
      if (candidate.layer == layer) m = &candidate;
    if (m == nullptr) throw_input_error("{}: {} is a prune mask for a layer this model does not have", source, name);
    if (t.dtype() != DType::U8 || t.numel() != m->total())
      throw_input_error("{}: {} has {} {} values, expected {} U8 values (one per weight of {})", source, name,
                        t.numel(), dtype_name(t.dtype()), m->total(), layer);
    const Tensor c = t.to(Device::CPU).contiguous();
    const uint8_t* p = c.data<uint8_t>();
    for (int64_t i = 0; i < m->total(); ++i) m->keep[static_cast<size_t>(i)] = p[i] != 0 ? 1 : 0;
  }
  return masks;
}

PruneMasks read_prune_masks(const std::string& path, const Module& model, bool* found) {
  SafetensorsContent content = read_safetensors(path);
  bool any = false;
  for (const auto& [name, t] : content.tensors) any = any || name.rfind(kPruneMaskPrefix, 0) == 0;
  if (found != nullptr) *found = any;
  return prune_masks_from_tensors(content.tensors, model, "checkpoint " + path);
}

}  // namespace stuckat
