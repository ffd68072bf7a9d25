// Taking and restoring bit-exact copies of a model's state.
#include "pruning/weight_snapshot.h"

#include "base/error.h"
#include "framework/io/safetensors.h"

namespace stuckat {

WeightSnapshot WeightSnapshot::take(const Module& model) {
  WeightSnapshot s;
  for (const auto& [name, t] : model.named_state()) s.tensors_.emplace_back(name, t.to(Device::CPU).clone());
  return s;
}

void WeightSnapshot::restore(Module& model) const {
  const NamedTensorList state = model.named_state();
  STUCKAT_CHECK(state.size() == tensors_.size(), "snapshot of {} tensors for a model with {}", tensors_.size(),
                state.size());
  for (size_t i = 0; i < state.size(); ++i) {
    STUCKAT_CHECK(state[i].first == tensors_[i].first, "snapshot tensor {} where the model has {}", tensors_[i].first,
                  state[i].first);
    Tensor target = state[i].second;
    target.copy_(tensors_[i].second.to(target.device()));
  }
}

void WeightSnapshot::rewind(Module& model, const PruneMasks& masks) const {
  restore(model);
  apply_masks(model, masks);
}

void WeightSnapshot::save(const std::string& path, const std::map<std::string, std::string>& metadata) const {
  write_safetensors(path, tensors_, metadata);
}

}  // namespace stuckat
