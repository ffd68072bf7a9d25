// FaultInjection: puts stuck-at faults into a model's conv and linear weights for evaluation,
//   w <- decode((encode(w) & AND) | OR)   per faulted layer, in place,
// and takes them out again (restore() brings back the exact weights seen at construction).
//
// Faultable layers are the conv and linear weights: parameters named "<layer>.weight" with two
// or more dimensions (conv (out, in, kh, kw), linear (out, in)); the layer name is the parameter
// name without ".weight" ("conv2", "fc1", "features.0", "layer1.0.conv1"). Biases and batch-norm
// parameters (1-D) are never faulted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "faults/fault_map.h"
#include "faults/fault_mask_io.h"
#include "faults/fault_spec.h"
#include "base/weight_format.h"
#include "framework/nn/module.h"

namespace stuckat {

// Names of the faultable layers of `model`, in registration order.
std::vector<std::string> faultable_layer_names(const Module& model);

struct LayerFaultStats {
  std::string layer;
  WeightFormat format;    // resolved for this layer (maxabs: its scale)
  int64_t weights = 0;    // numel of the weight tensor
  int64_t faulty = 0;     // weights with at least one stuck bit
  int64_t changed = 0;    // weights whose word the faults changed (a stuck bit that already held its value does not count)
  int64_t saturated = 0;  // weights outside the format's range when encoded (clipped before faulting)
};

class FaultInjection {
 public:
  // Builds one fault map per layer named by a spec (or every faultable layer for layer=all) or
  // present in `masks` (e.g. read_fault_masks of a checkpoint or of masks measured on a chip):
  // a layer's map starts from its entry in `masks` and the specs are stacked on top in order
  // (see fault_map.h for the stacking rule). It also snapshots the clean
  // weights of those layers. With quantize_all_layers, layers without faults are also replaced by
  // decode(encode(w)) in apply(), so a faulty run differs from a clean quantized one only by faults.
  // Throws InputError when specs or masks are given with format none, or a spec names an unknown
  // layer (the message lists the valid names). The model's parameters must be f32 on the CPU.
  FaultInjection(Module& model, const WeightFormat& format, const std::vector<FaultSpec>& specs,
                 bool quantize_all_layers = false, const LayerFaultMaps& masks = {});

  // Replaces the weights in place from the clean snapshot (calling it twice gives the same
  // weights); one entry per replaced layer, in registration order.
  std::vector<LayerFaultStats> apply();
  // Copies the clean snapshot back into the model's weight tensors.
  void restore();

  struct Layer {
    std::string name;
    Tensor weight;  // the model's parameter (shared storage)
    Tensor clean;   // snapshot taken at construction
    FaultMap map;   // all fault-free when the layer is only quantized
  };
  const std::vector<Layer>& layers() const { return layers_; }
  const WeightFormat& format() const { return format_; }

 private:
  WeightFormat format_;
  std::vector<Layer> layers_;
};

}  // namespace stuckat
