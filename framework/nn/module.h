// Module: a named tree of parameters (trained), buffers (state such as batch-norm running
// statistics) and child modules. Names compose with '.' like PyTorch's state_dict keys, so a
// checkpoint's names are e.g. "features.0.weight" or "layer1.0.bn1.running_mean".
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/tensor.h"

namespace stuckat {

using NamedTensorList = std::vector<std::pair<std::string, Tensor>>;

// One step of a model's forward pass. Running a model's stages in order on x gives forward(x)
// exactly, so a fault sweep can compute the activations before the stage that reads a faulted
// layer once and reuse them for every fault configuration of that layer.
class Module;
struct ForwardStage {
  std::vector<std::string> layers;  // the conv/linear layers whose weights this stage reads ("conv2")
  std::function<Tensor(const Tensor&)> run;
  // Optional split, for a stage that begins with its one conv/linear layer: run(x) ==
  // after(layer->forward(x)). A sweep then keeps layer->forward(x) for the clean weights and
  // adds only the faulted weights' contribution (the layer is linear in its weights).
  Module* layer = nullptr;
  std::function<Tensor(const Tensor&)> after;
  // Optional, when `after` treats each output channel of `layer` (dim 1) on its own (batch norm,
  // pooling, ReLU, flatten): after_channels(select_index(y, 1, c), c) equals after(y) restricted
  // to the channels c, in that order; a flattening stage returns those channels' blocks of its
  // flat output. A sweep then recomputes only the channels a fault changed.
  std::function<Tensor(const Tensor&, const std::vector<int64_t>&)> after_channels;
  // Set when `after` is exactly ReLU and an optional max pool, in either order, then an
  // optional flatten (LeNet-5's stages): pool_k, pool_stride of the pool (0 when there is none),
  // pool_first when the pool comes before the ReLU. A sweep then runs a point's changed channels
  // through that chain in one fused pass.
  struct ReluPool {
    bool matches = false;
    int64_t pool_k = 0, pool_stride = 0;
    bool pool_first = false;
  } after_relu_pool;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  // The forward pass as consecutive stages (see ForwardStage). Default: one stage that calls
  // forward() and lists every conv/linear layer (names of the >= 2-D "<layer>.weight" parameters).
  // The stages hold a raw pointer to this module and must not outlive it.
  virtual std::vector<ForwardStage> forward_stages();

  NamedTensorList named_parameters() const;  // registration order, depth first
  NamedTensorList named_buffers() const;
  NamedTensorList named_state() const;       // parameters then buffers per module, depth first
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;

  void train(bool on = true);
  void eval() { train(false); }
  // Whether the training-mode forward pass normalises over the batch (batch norm), so that one
  // image's output depends on the other images of its batch. Default: whether any child does.
  virtual bool normalises_over_batch() const;
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
