// SGD step over every parameter through the one-pass update kernel, and StepLR.
#include "framework/optim/sgd.h"

#include <cmath>

#include "kernels/cuda/sgd_update.h"

namespace stuckat {

Sgd::Sgd(std::vector<Tensor> params, const SgdOptions& options, std::vector<std::string> names)
    : params_(std::move(params)), names_(std::move(names)), momentum_(params_.size()), options_(options) {
  STUCKAT_CHECK(names_.empty() || names_.size() == params_.size(), "Sgd: {} names for {} parameters", names_.size(),
                params_.size());
  if (names_.empty())
    for (size_t i = 0; i < params_.size(); ++i) names_.push_back(std::to_string(i));
  STUCKAT_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0, "invalid SGD options");
  STUCKAT_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
                "Nesterov momentum needs momentum > 0 and dampening 0");
}

void Sgd::zero_grad() {
  for (Tensor& p : params_) p.set_grad(Tensor());
}

void Sgd::step() {
  cpu::SgdConfig c{options_.lr, options_.momentum, options_.dampening, options_.weight_decay, options_.nesterov};
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    STUCKAT_CHECK(g.device() == p.device(), "SGD: gradient on {} for a parameter on {}", device_name(g.device()),
                  device_name(p.device()));
    bool first = false;
    if (options_.momentum != 0 && !momentum_[i].defined()) {
      momentum_[i] = Tensor::empty(p.shape(), DType::F32, p.device());
      first = true;
    }
    float* buf = momentum_[i].defined() ? momentum_[i].data<float>() : nullptr;
    if (p.device() == Device::CUDA) {
      cuda::sgd_update(p.data<float>(), g.contiguous().data<float>(), buf, p.numel(), c, first);
    } else {
      cpu::sgd_update(p.data<float>(), g.contiguous().data<float>(), buf, p.numel(), c, first);
    }
  }
}

void Sgd::set_momentum_buffer(size_t i, const Tensor& buf) {
  STUCKAT_CHECK(i < params_.size() && buf.shape() == params_[i].shape(), "momentum buffer {} of shape {}", i,
                shape_str(buf.shape()));
  momentum_[i] = buf.clone().to(params_[i].device());
}

OptimizerState Sgd::state() const {
  OptimizerState out;
  for (size_t i = 0; i < params_.size(); ++i)
    if (momentum_[i].defined()) out.emplace_back("momentum." + names_[i], momentum_[i].to(Device::CPU));
  return out;
}

void Sgd::load_state(const OptimizerState& state) {
  for (const auto& [name, t] : state)
    for (size_t i = 0; i < params_.size(); ++i)
      if (name == "momentum." + names_[i]) set_momentum_buffer(i, t);
}

StepLR::StepLR(Optimizer& opt, int step_size, float gamma)
    : opt_(opt), step_size_(step_size), gamma_(gamma), base_lr_(opt.lr()) {
  STUCKAT_CHECK(step_size >= 1, "StepLR step_size must be >= 1, got {}", step_size);
}

void StepLR::step() {
  ++epoch_;
  opt_.set_lr(base_lr_ * std::pow(gamma_, static_cast<float>(epoch_ / step_size_)));
}

}  // namespace stuckat
