// Fault masks as tensors, so a run's stuck bits travel with its checkpoint and masks measured on
// a real chip can be loaded: per layer "fault_and.<layer>" and "fault_or.<layer>", I16 (the 16-bit
// patterns bit-cast), one entry per weight in the layer's row-major order (any
// shape with the weight's element count). Effective word = (word & and) | or, as in fault_map.h.
//
// Such tensors sit in checkpoint.safetensors and train_state.safetensors of a faulty training
// run; load_checkpoint ignores them. A mask file may hold only some layers (fault-free layers
// need no entry) but each layer it names needs both masks.
#pragma once
#include <map>
#include <string>

#include "faults/fault_map.h"
#include "framework/io/checkpoint.h"  // kFaultAndPrefix, kFaultOrPrefix
#include "framework/nn/module.h"

namespace stuckat {

// True for tensor names with either prefix.
bool is_fault_mask_name(const std::string& name);

// The two tensors of one layer's map (flat, I16).
NamedTensorList fault_mask_tensors(const std::string& layer, const FaultMap& map);

// Fault maps by layer name.
using LayerFaultMaps = std::map<std::string, FaultMap>;

// Reads every fault mask pair in the safetensors file `path` for `model`. Throws InputError with
// one sentence naming `flag` and the file when the file holds no masks, a layer is not a conv or
// linear layer of the model, a mask's element count or dtype is wrong, or one of a pair is
// missing. A bit set in `or` counts as stuck at 1 whatever `and` says (and |= or), which keeps
// the effective word and the invariant or & ~and == 0.
LayerFaultMaps read_fault_masks(const std::string& path, const Module& model, const std::string& flag);

// Stacks `later` onto `base` with fault_map.h's rule (a later stuck bit wins):
// and = (a1 & a2) | o2, or = (o1 & a2) | o2, i.e. ((w & a1) | o1) & a2 | o2 for every word w.
void stack_fault_map(FaultMap& base, const FaultMap& later);

}  // namespace stuckat
