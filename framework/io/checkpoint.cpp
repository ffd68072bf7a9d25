// Model state <-> safetensors. Loading matches tensors by name and reports every disagreement in
// one message, because a user loading the wrong checkpoint wants the whole picture at once.
// Data is copied into the model's existing tensors so handles held by layers stay valid.
#include "framework/io/checkpoint.h"

#include <unordered_map>
#include <unordered_set>

#include "base/error.h"
#include "base/weight_format.h"
#include "framework/io/float16_words.h"
#include "framework/io/safetensors.h"

namespace stuckat {
namespace {

// Which file dtypes a model tensor of `model` dtype accepts: f32 weights load from half-precision
// exports; I64 counters (num_batches_tracked) from writers that used I32.
bool accepts(DType model, DType file) {
  if (model == file) return true;
  if (model == DType::F32) return file == DType::F16 || file == DType::BF16;
  if (model == DType::I64) return file == DType::I32;
  return false;
}

Tensor convert_to(const Tensor& file_tensor, DType model) {
  if (file_tensor.dtype() == model) return file_tensor;
  if (model == DType::F32) return half_words_to_f32(file_tensor);
  return file_tensor.to_dtype(model);  // I32 -> I64
}

// "a, b, c and 4 more": a whole wrong architecture would otherwise list hundreds of names.
std::string name_list(const std::vector<std::string>& names) {
  constexpr size_t kShown = 8;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kShown) out += fmt::format(" and {} more", names.size() - kShown);
  return out;
}

// The metadata values stuckat itself reads back must be what it writes: a checkpoint edited by
// hand (or by another tool) is refused here, naming the file and the key, before any flag that
// happens to share the value's meaning is blamed for it.
void check_metadata(const std::string& path, const std::map<std::string, std::string>& meta) {
  auto it = meta.find("quant");
  if (it != meta.end()) {
    try {
      (void)parse_weight_format(it->second);
    } catch (const InputError&) {
      throw_input_error("checkpoint {}: metadata key 'quant' holds '{}', not a weight format (expected q<I>.<F> with "
                        "I + F = 15, maxabs, signmag, fp16 or none)", path, it->second);
    }
  }
  it = meta.find("model");
  if (it != meta.end() && it->second.empty())
    throw_input_error("checkpoint {}: metadata key 'model' is empty; expected a model name such as lenet5", path);
}

std::map<std::string, std::string> load_into(const std::string& path, Module& model, const std::string& model_desc) {
  SafetensorsContent content = read_safetensors(path);
  check_metadata(path, content.metadata);
  std::unordered_map<std::string, size_t> in_file;
  for (size_t i = 0; i < content.tensors.size(); ++i) in_file.emplace(content.tensors[i].first, i);

  const NamedTensorList state = model.named_state();
  std::vector<std::string> missing, mismatches;
  std::unordered_set<std::string> used;
  for (const auto& [name, t] : state) {
    auto it = in_file.find(name);
    if (it == in_file.end()) {
      missing.push_back(name);
      continue;
    }
    used.insert(name);
    const Tensor& f = content.tensors[it->second].second;
    if (t.shape() != f.shape())
      mismatches.push_back(fmt::format("shape of {} is {} in the model but {} in the file", name, shape_str(t.shape()),
                                       shape_str(f.shape())));
    else if (!accepts(t.dtype(), f.dtype()))
      mismatches.push_back(fmt::format("dtype of {} is {} in the model but {} in the file", name, dtype_name(t.dtype()),
                                       dtype_name(f.dtype())));
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : content.tensors)
    if (!used.count(name) && !is_checkpoint_extra(name)) unexpected.push_back(name);

  if (!missing.empty() || !unexpected.empty() || !mismatches.empty()) {
    std::vector<std::string> parts;
    if (!missing.empty()) parts.push_back("missing " + name_list(missing));
    if (!unexpected.empty()) parts.push_back("unexpected " + name_list(unexpected));
    for (size_t i = 0; i < mismatches.size() && i < 8; ++i) parts.push_back(mismatches[i]);
    if (mismatches.size() > 8) parts.push_back(fmt::format("{} more shape/dtype mismatches", mismatches.size() - 8));
    auto file_model = content.metadata.find("model");
    std::string written_for =
        file_model == content.metadata.end() ? "" : fmt::format(" (saved from model {})", file_model->second);
    std::string listing;
    for (const std::string& p : parts) listing += (listing.empty() ? "" : "; ") + p;
    throw InputError(fmt::format("checkpoint {}{} does not fit {}: {}.", path, written_for, model_desc, listing));
  }

  // Everything matched: only now touch the model, so a failed load leaves it unchanged.
  for (const auto& [name, t] : state) {
    Tensor model_tensor = t;
    model_tensor.copy_(convert_to(content.tensors[in_file.at(name)].second, t.dtype()));
  }
  return std::move(content.metadata);
}

}  // namespace

bool is_checkpoint_extra(const std::string& name) {
  for (const char* prefix : {kPruneMaskPrefix, kFaultAndPrefix, kFaultOrPrefix})
    if (name.rfind(prefix, 0) == 0) return true;
  return false;
}

void save_checkpoint(const std::string& path, const Module& model, const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, model.named_state(), metadata);  // moves each tensor to the CPU, contiguous
}

void save_checkpoint(const std::string& path, const Module& model, const std::map<std::string, std::string>& metadata,
                     const NamedTensorList& extra) {
  NamedTensorList all = model.named_state();
  all.insert(all.end(), extra.begin(), extra.end());
  write_safetensors(path, all, metadata);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& model) {
  return load_into(path, model, "the model");
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& model,
                                                   const std::string& model_name) {
  return load_into(path, model, "model " + model_name);
}

std::map<std::string, std::string> read_checkpoint_metadata(const std::string& path) {
  std::map<std::string, std::string> meta = read_safetensors_header(path).metadata;
  check_metadata(path, meta);
  return meta;
}

std::string checkpoint_model_name(const std::string& path, const std::string& given) {
  if (!given.empty()) return given;
  const std::map<std::string, std::string> meta = read_checkpoint_metadata(path);
  auto it = meta.find("model");
  if (it == meta.end()) throw_input_error("checkpoint {} does not record its model; pass --model", path);
  return it->second;
}

}  // namespace stuckat
