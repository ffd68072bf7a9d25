// Model checkpoints: the model's parameters and buffers under their PyTorch-style names, with
// the model name and hyper-parameters in the safetensors metadata.
#pragma once
#include <map>
#include <string>

#include "framework/nn/module.h"

namespace stuckat {

// metadata should hold at least "model"; values are strings (JSON for structured values).
void save_checkpoint(const std::string& path, const Module& model, const std::map<std::string, std::string>& metadata);

// Prune masks travel in the checkpoint beside the model state as U8 tensors "prune.<layer>"
// (1 = kept, 0 = pruned; pruning/prune_mask_io.h reads and writes them). They are not model
// state: load_checkpoint ignores tensors with this prefix, so eval, sweep and PyTorch tools that
// filter by name read a pruned checkpoint like any other.
inline constexpr const char* kPruneMaskPrefix = "prune.";
// Stuck-at fault masks of a faulty training run travel the same way (faults/fault_mask_io.h):
// I16 tensors "fault_and.<layer>" and "fault_or.<layer>", also ignored by load_checkpoint.
inline constexpr const char* kFaultAndPrefix = "fault_and.";
inline constexpr const char* kFaultOrPrefix = "fault_or.";
// True for the names above: tensors beside the model state, not part of it.
bool is_checkpoint_extra(const std::string& name);
// As above, with extra tensors (e.g. prune masks) written after the model state.
void save_checkpoint(const std::string& path, const Module& model, const std::map<std::string, std::string>& metadata,
                     const NamedTensorList& extra);

// Copies the file's tensors into the model's parameters and buffers (converting F16/BF16/F64-free
// numeric types to f32 where the model expects f32). Throws InputError naming the file and
// listing missing, unexpected or mismatched (shape/dtype) tensors. Returns the metadata.
std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& model);
// Same, naming the model in the error ("checkpoint a.safetensors does not fit model lenet5: ...").
std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& model,
                                                   const std::string& model_name);

// Only the metadata (to pick the architecture before building the model).
std::map<std::string, std::string> read_checkpoint_metadata(const std::string& path);

// The model a checkpoint is for: `given` when not empty, else the "model" its metadata records
// (InputError naming the file, and --model, when it records none).
std::string checkpoint_model_name(const std::string& path, const std::string& given);

}  // namespace stuckat
