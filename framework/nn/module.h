// Module: a named tree of parameters (trained), buffers (state such as batch-norm running
// statistics) and child modules. Names compose with '.' like PyTorch's state_dict keys, so a
// checkpoint's names are e.g. "features.0.weight" or "layer1.0.bn1.running_mean".
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/tensor.h"

namespace stuckat {

using NamedTensorList = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  NamedTensorList named_parameters() const;  // registration order, depth first
  NamedTensorList named_buffers() const;
  NamedTensorList named_state() const;       // parameters then buffers per module, depth first
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves every parameter and buffer to `device` (keeps requires_grad).
  void to(Device device);

 protected:
  // Return handles sharing the registered tensor (to() moves data in place, so they stay valid).
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <typename M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensorList& out) const;
  NamedTensorList params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace stuckat
