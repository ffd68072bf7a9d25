// FaultAwareSgd: SGD for training with stuck-at faults. The conv and linear weights
// are 16-bit words on the crossbar: for each such layer it keeps an f32 master copy, the fault
// map (AND/OR masks), the resolved weight format and an optional prune mask, and updates them
// with the fused kernel of fault_sgd_update.h, writing the effective (faulty) weights into the
// model so the forward pass always sees the faulty words. Biases and batch-norm parameters are
// f32 and get plain SGD (the same options).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "faults/fault_map.h"
#include "faults/fault_mask_io.h"
#include "faults/fault_sgd_update.h"
#include "faults/fault_spec.h"
#include "base/weight_format.h"
#include "framework/nn/module.h"
#include "framework/optim/sgd.h"

namespace stuckat {

class FaultAwareSgd : public Optimizer {
 public:
  // Builds the fault maps of `specs` exactly as FaultInjection does (same specs, same masks;
  // unknown layers and --quant none with faults throw InputError), resolves each layer's format
  // from its current weights (maxabs: its scale), and writes the initial effective weights into
  // the model (fault_prepare_weights). clip_bound > 0 bounds clip mode; 0 means each layer's
  // largest fault-free magnitude at construction (fixed from then on). `format` must not be none.
  // `masks` as for FaultInjection: per-layer starting maps (e.g. measured on a chip), the specs
  // stacked on top.
  FaultAwareSgd(Module& model, const SgdOptions& sgd, const WeightFormat& format, const std::vector<FaultSpec>& specs,
                FaultMode mode, float clip_bound = 0.0f, const LayerFaultMaps& masks = {});

  void zero_grad() override;
  void step() override;
  float lr() const override { return options_.lr; }
  void set_lr(float lr) override;
  // "master.<layer>", "momentum.<param>", "fault_and.<layer>" / "fault_or.<layer>" (the masks
  // bit-cast to I16, only for layers with stuck bits), "prune.<layer>" (U8) and "format_scale.<layer>" (1 f32).
  OptimizerState state() const override;
  void load_state(const OptimizerState& state) override;

  // mask: numel entries, 0 = pruned. The weight becomes exactly 0 now and stays 0. Call before to().
  void set_prune_mask(const std::string& layer, const std::vector<uint8_t>& mask);

  // After the model moved to `device` (its parameters, and so every layer's weight, follow the
  // model): moves the master weights and momentum there and copies the masks once; step() then
  // runs the CUDA fused update (fault_sgd_update_cuda.h, bit-exact with the CPU one). The host
  // copies of the masks stay for state() and the reports.
  void to(Device device);

  struct Layer {
    std::string name;     // e.g. "conv2"
    Tensor weight;        // the model's parameter: the effective weights
    Tensor master;        // f32 master copy (same shape)
    Tensor momentum;      // undefined until the first step when momentum != 0
    WeightFormat format;  // resolved for this layer
    FaultMap map;
    std::vector<uint8_t> prune;  // empty = nothing pruned
    float clip_bound = 0.0f;
    Tensor and_dev, or_dev, prune_dev;  // on the GPU after to(CUDA): map and prune (I16, I16, U8)
  };
  const std::vector<Layer>& layers() const { return layers_; }
  FaultMode mode() const { return mode_; }

 private:
  FaultSgdConfig config_of(const Layer& layer) const;
  void prepare(Layer& layer);
  void upload_masks(Layer& layer);  // host masks -> the device copies (no-op on the CPU)

  SgdOptions options_;
  FaultMode mode_;
  std::vector<Layer> layers_;
  Sgd rest_;  // the parameters that are not fault-aware layers
};

}  // namespace stuckat
