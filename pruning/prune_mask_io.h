// Prune masks in files: U8 tensors "prune.<layer>" of the weight's shape (1 = kept, 0 =
// pruned) beside the model state in a checkpoint (framework/io/checkpoint.h, kPruneMaskPrefix),
// and in an optimizer's state (FaultAwareSgd and MaskedSgd write the same names).
#pragma once
#include <string>

#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"
#include "pruning/prune_mask.h"

namespace stuckat {

// "prune.<layer>" tensors for every layer that has a pruned weight (dense layers are omitted).
NamedTensorList prune_mask_tensors(const PruneMasks& masks);

// The masks stored in `tensors` for the model's layers; layers without a stored mask are dense.
// A mask for a layer the model lacks, or with the wrong number of entries or dtype, throws
// InputError naming `source` (a file name or "train state").
PruneMasks prune_masks_from_tensors(const NamedTensorList& tensors, const Module& model, const std::string& source);

// Reads the masks of checkpoint `path` (dense when it holds none); sets *found when it held any.
PruneMasks read_prune_masks(const std::string& path, const Module& model, bool* found = nullptr);

}  // namespace stuckat
