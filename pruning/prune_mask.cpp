// Building prune masks from a model and applying them to its weights.
#include "pruning/prune_mask.h"

#include <cstring>

#include "faults/faulty_model.h"
#include "base/error.h"
#include "pruning/cuda/zero_pruned_cuda.h"

namespace stuckat {

int64_t LayerMask::kept() const {
  int64_t n = 0;
  for (uint8_t k : keep) n += k != 0 ? 1 : 0;
  return n;
}

std::vector<PrunableLayer> prunable_layers(const Module& model) {
  const std::vector<std::string> names = faultable_layer_names(model);
  std::vector<PrunableLayer> out;
  for (const auto& [param, t] : model.named_parameters())
    for (const std::string& n : names)
      if (param == n + ".weight") out.push_back({n, t});
  return out;
}

PruneMasks dense_masks(const Module& model) {
  PruneMasks masks;
  for (const PrunableLayer& l : prunable_layers(model))
    masks.push_back({l.name, l.weight.shape(), std::vector<uint8_t>(static_cast<size_t>(l.weight.numel()), 1)});
  return masks;
}

PruneMasks nonzero_masks(const Module& model) {
  PruneMasks masks = dense_masks(model);
  std::vector<PrunableLayer> layers = prunable_layers(model);
  for (size_t l = 0; l < layers.size(); ++l) {
    const Tensor w = layers[l].weight.to(Device::CPU).contiguous();
    const float* p = w.data<float>();
    for (int64_t i = 0; i < w.numel(); ++i) masks[l].keep[static_cast<size_t>(i)] = p[i] != 0.0f ? 1 : 0;
  }
  return masks;
}

Tensor keep_tensor(const LayerMask& m, Device device) {
  Tensor t = Tensor::empty({m.total()}, DType::U8);
  std::memcpy(t.raw_data(), m.keep.data(), m.keep.size());
  return t.to(device);
}

void apply_masks(const Module& model, const PruneMasks& masks) {
  for (const PrunableLayer& l : prunable_layers(model)) {
    const LayerMask* m = find_mask(masks, l.name);
    if (m == nullptr) continue;
    STUCKAT_CHECK(m->total() == l.weight.numel(), "prune mask of {} has {} entries for {} weights", l.name, m->total(),
                  l.weight.numel());
    STUCKAT_CHECK(l.weight.is_contiguous() && l.weight.dtype() == DType::F32, "apply_masks needs contiguous f32 weights ({})",
                  l.name);
    if (l.weight.device() == Device::CUDA) {  // the mask travels, the weights stay on the device
      const Tensor keep = keep_tensor(*m, Device::CUDA);
      Tensor w = l.weight;
      cuda::zero_pruned(w.data<float>(), static_cast<const uint8_t*>(keep.raw_data()), m->total());
      continue;
    }
    float* w = l.weight.data<float>();
    for (int64_t i = 0; i < m->total(); ++i)
      if (m->keep[static_cast<size_t>(i)] == 0) w[i] = 0.0f;
  }
}

const LayerMask* find_mask(const PruneMasks& masks, const std::string& layer) {
  for (const LayerMask& m : masks)
    if (m.layer == layer) return &m;
  return nullptr;
}

int64_t total_weights(const PruneMasks& masks) {
  int64_t n = 0;
  for (const LayerMask& m : masks) n += m.total();
  return n;
}

int64_t total_kept(const PruneMasks& masks) {
  int64_t n = 0;
  for (const LayerMask& m : masks) n += m.kept();
  return n;
}

}  // namespace stuckat
