// Parameter/buffer traversal and device moves for Module trees.
#include "framework/nn/module.h"

namespace stuckat {

std::vector<ForwardStage> Module::forward_stages() {
  ForwardStage all;
  const std::string suffix = ".weight";
  for (const auto& [name, t] : named_parameters())
    if (t.dim() >= 2 && name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      all.layers.push_back(name.substr(0, name.size() - suffix.size()));
  all.run = [this](const Tensor& x) { return forward(x); };
  return {all};
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return t;
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensorList& out) const {
  if (params)
    for (const auto& kv : params_) out.emplace_back(prefix + kv.first, kv.second);
  if (buffers)
    for (const auto& kv : buffers_) out.emplace_back(prefix + kv.first, kv.second);
  for (const auto& kv : children_) kv.second->collect(prefix + kv.first + ".", params, buffers, out);
}

NamedTensorList Module::named_parameters() const {
  NamedTensorList out;
  collect("", true, false, out);
  return out;
}

NamedTensorList Module::named_buffers() const {
  NamedTensorList out;
  collect("", false, true, out);
  return out;
}

NamedTensorList Module::named_state() const {
  NamedTensorList out;
  collect("", true, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& kv : named_parameters()) out.push_back(kv.second);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (auto& kv : named_parameters()) n += kv.second.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& kv : children_) kv.second->train(on);
}

bool Module::normalises_over_batch() const {
  for (const auto& kv : children_)
    if (kv.second->normalises_over_batch()) return true;
  return false;
}

void Module::to(Device device) {
  for (auto& kv : named_state()) {
    Tensor& t = kv.second;
    if (t.device() == device) continue;
    Tensor moved = t.to(device);
    // Swap the storage inside the shared impl so every handle (layers hold copies) follows.
    TensorImpl* impl = t.impl();
    impl->storage = moved.storage();
    impl->offset = 0;
    impl->strides = contiguous_strides(impl->shape);
    impl->autograd.grad = Tensor();
  }
}

}  // namespace stuckat
