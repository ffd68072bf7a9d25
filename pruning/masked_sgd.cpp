// The masked optimizer's bookkeeping: which parameter has which mask, buffers, state.
#include "pruning/masked_sgd.h"

#include "base/error.h"
#include "kernels/cuda/sgd_update.h"
#include "pruning/cuda/zero_pruned_cuda.h"
#include "pruning/masked_sgd_update.h"
#include "pruning/prune_mask_io.h"

namespace stuckat {

MaskedSgd::MaskedSgd(Module& model, const SgdOptions& options, const PruneMasks& masks)
    : model_(model), options_(options), masks_(masks) {
  STUCKAT_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0, "invalid SGD options");
  STUCKAT_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
                "Nesterov momentum needs momentum > 0 and dampening 0");
  STUCKAT_CHECK(masks_.size() == prunable_layers(model).size(), "{} prune masks for {} prunable layers", masks_.size(),
                prunable_layers(model).size());
  for (const auto& [name, t] : model.named_parameters()) {
    Param p{name, t, Tensor(), -1};
    for (size_t m = 0; m < masks_.size(); ++m)
      if (name == masks_[m].layer + ".weight") {
        STUCKAT_CHECK(masks_[m].total() == t.numel(), "prune mask of {} has {} entries for {} weights", masks_[m].layer,
                      masks_[m].total(), t.numel());
        p.mask = static_cast<int>(m);
      }
    params_.push_back(p);
  }
  apply_masks(model_, masks_);
}

void MaskedSgd::zero_grad() {
  for (Param& p : params_) p.tensor.set_grad(Tensor());
}

void MaskedSgd::step() {
  const cpu::SgdConfig c{options_.lr, options_.momentum, options_.dampening, options_.weight_decay, options_.nesterov};
  for (Param& p : params_) {
    const Tensor& g = p.tensor.grad();
    if (!g.defined()) continue;
    STUCKAT_CHECK(g.device() == p.tensor.device(), "masked SGD: gradient on {} for {} on {}", device_name(g.device()),
                  p.name, device_name(p.tensor.device()));
    bool first = false;
    if (options_.momentum != 0 && !p.momentum.defined()) {
      p.momentum = Tensor::empty(p.tensor.shape(), DType::F32, p.tensor.device());
      first = true;
    }
    if (p.tensor.device() == Device::CUDA) {
      // The plain SGD step (bit-exact with the CPU's), then the pruned weights and their momentum
      // set to 0: the CPU masked update's result, value for value.
      float* buf = p.momentum.defined() ? p.momentum.data<float>() : nullptr;
      cuda::sgd_update(p.tensor.data<float>(), g.contiguous().data<float>(), buf, p.tensor.numel(), c, first);
      if (p.mask >= 0) {
        const uint8_t* keep = static_cast<const uint8_t*>(device_keep(static_cast<size_t>(p.mask)).raw_data());
        cuda::zero_pruned(p.tensor.data<float>(), keep, p.tensor.numel());
        if (buf != nullptr) cuda::zero_pruned(buf, keep, p.tensor.numel());
      }
      continue;
    }
    masked_sgd_update(p.tensor.data<float>(), g.contiguous().data<float>(),
                      p.momentum.defined() ? p.momentum.data<float>() : nullptr,
                      p.mask >= 0 ? masks_[static_cast<size_t>(p.mask)].keep.data() : nullptr, p.tensor.numel(), c,
                      first);
  }
}

const Tensor& MaskedSgd::device_keep(size_t mask) {
  if (keep_dev_.size() != masks_.size()) keep_dev_.assign(masks_.size(), Tensor());
  if (!keep_dev_[mask].defined()) keep_dev_[mask] = keep_tensor(masks_[mask], Device::CUDA);
  return keep_dev_[mask];
}

void MaskedSgd::set_masks(const PruneMasks& masks) {
  STUCKAT_CHECK(masks.size() == masks_.size(), "{} masks for {} layers", masks.size(), masks_.size());
  masks_ = masks;
  keep_dev_.clear();  // uploaded again when a step on the GPU needs them
  apply_masks(model_, masks_);
  for (Param& p : params_) {
    if (p.mask < 0 || !p.momentum.defined()) continue;
    const LayerMask& m = masks_[static_cast<size_t>(p.mask)];
    if (p.momentum.device() == Device::CUDA) {
      cuda::zero_pruned(p.momentum.data<float>(), static_cast<const uint8_t*>(device_keep(static_cast<size_t>(p.mask)).raw_data()),
                        m.total());
      continue;
    }
    float* b = p.momentum.data<float>();
    for (int64_t i = 0; i < m.total(); ++i)
      if (m.keep[static_cast<size_t>(i)] == 0) b[i] = 0.0f;
  }
}

OptimizerState MaskedSgd::state() const {
  OptimizerState out;
  for (const Param& p : params_)
    if (p.momentum.defined()) out.emplace_back("momentum." + p.name, p.momentum.to(Device::CPU).clone());
  for (auto& entry : prune_mask_tensors(masks_)) out.push_back(entry);
  return out;
}

void MaskedSgd::load_state(const OptimizerState& state) {
  for (const auto& [name, t] : state)
    for (Param& p : params_)
      if (name == "momentum." + p.name) {
        if (t.dtype() != DType::F32 || t.numel() != p.tensor.numel())
          throw_input_error("train state: {} has {} {} values, expected {} F32 values", name, t.numel(),
                            dtype_name(t.dtype()), p.tensor.numel());
        p.momentum = t.contiguous().view(p.tensor.shape()).clone().to(p.tensor.device());
      }
  set_masks(prune_masks_from_tensors(state, model_, "train state"));
}

}  // namespace stuckat
