// The sweep's model copy (SweepRunOptions::device_model, normally on the GPU): its faultable
// layers, their clean words and decoded weights for one format at a time, on the host and on the
// copy's device. The pipeline that runs points on it is sweep_copy_path.h. Internal to sweep/.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "base/weight_format.h"
#include "framework/nn/module.h"
#include "framework/tensor.h"

namespace stuckat::sweep {

// One faultable layer of the copy.
struct CopyLayer {
  Tensor fwd_weight;    // the copy's weight parameter
  Tensor original;      // its unquantized weights (CPU)
  Tensor original_dev;  // ... on the copy's device
  // Set by set_copy_format:
  WeightFormat resolved;          // the format with the layer's scale
  Tensor words, quantized;        // CPU: the clean words, decoded
  Tensor words_dev;               // the clean words on the copy's device
};

// The model copy's view of its faultable layers.
struct CopyModel {
  std::vector<ForwardStage> stages;          // of the copy
  std::map<std::string, size_t> stage_of;    // layer -> the stage that reads it
  std::map<std::string, CopyLayer> layers;
};

// The copy's view: `weights` maps each faultable layer to the copy's parameter, `original` to its
// unquantized values on the CPU (uploaded here in one copy).
CopyModel make_copy_model(const std::vector<ForwardStage>& stages, const std::map<std::string, Tensor>& weights,
                          const std::map<std::string, Tensor>& original);

// Every layer quantized to `format` (decode(encode(w)), as FaultInjection does): its words and
// decoded weights on the host, uploaded in one copy each for all layers; the copy's weights set to
// the decoded ones.
void set_copy_format(CopyModel& model, const std::string& format);

// The copy's weights back to their original values.
void restore_copy(CopyModel& model);

// Host tensors (contiguous, of one dtype) packed into one tensor and uploaded in one copy;
// returns views of the device tensor shaped like the parts, in order (on the CPU, views of the
// packed host tensor).
std::vector<Tensor> upload_packed(const std::vector<Tensor>& parts, DType dtype, Device device);

}  // namespace stuckat::sweep
