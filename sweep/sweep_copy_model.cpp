// The sweep's model copy (sweep_copy_model.h).
#include "sweep/sweep_copy_model.h"

#include <algorithm>
#include <cstring>

#include "faults/weight_codec.h"
#include "framework/dtype.h"
#include "base/error.h"
#include "framework/ops.h"

namespace stuckat::sweep {

std::vector<Tensor> upload_packed(const std::vector<Tensor>& parts, DType dtype, Device device) {
  int64_t total = 0;
  for (const Tensor& t : parts) total += t.numel();
  Tensor packed = Tensor::empty({std::max<int64_t>(1, total)}, dtype);
  int64_t at = 0;
  for (const Tensor& t : parts) {
    STUCKAT_CHECK(t.dtype() == dtype && t.is_contiguous() && t.device() == Device::CPU,
                  "upload_packed: contiguous CPU parts of one dtype");
    std::memcpy(static_cast<char*>(packed.raw_data()) + at * dtype_size(dtype), t.raw_data(), t.nbytes());
    at += t.numel();
  }
  const Tensor dev = packed.to(device);
  std::vector<Tensor> views;
  at = 0;
  for (const Tensor& t : parts) {
    views.push_back(slice_rows(dev, at, at + t.numel()).view(t.shape()));
    at += t.numel();
  }
  return views;
}

CopyModel make_copy_model(const std::vector<ForwardStage>& stages, const std::map<std::string, Tensor>& weights,
                          const std::map<std::string, Tensor>& original) {
  CopyModel m;
  m.stages = stages;
  for (size_t k = 0; k < stages.size(); ++k)
    for (const std::string& layer : stages[k].layers) m.stage_of.emplace(layer, k);
  std::vector<Tensor> parts;
  for (const auto& [layer, w] : weights) {
    STUCKAT_CHECK(original.count(layer) && original.at(layer).shape() == w.shape() &&
                      original.at(layer).device() == Device::CPU,
                  "make_copy_model: layer {} needs its original weights on the CPU, shaped like the copy's", layer);
    CopyLayer& l = m.layers[layer];
    l.fwd_weight = w;
    l.original = original.at(layer).contiguous();
    parts.push_back(l.original);
  }
  if (weights.empty()) return m;
  const Device device = weights.begin()->second.device();
  std::vector<Tensor> dev = upload_packed(parts, DType::F32, device);
  size_t i = 0;
  for (auto& [layer, l] : m.layers) l.original_dev = dev[i++];
  return m;
}

void set_copy_format(CopyModel& model, const std::string& format) {
  if (model.layers.empty()) return;
  const WeightFormat f = parse_weight_format(format);
  std::vector<Tensor> words, quantized;
  for (auto& [layer, l] : model.layers) {
    const int64_t n = l.original.numel();
    l.resolved = resolve_layer_format(f, l.original.data<float>(), n);
    l.words = Tensor::empty({n}, DType::I16);
    l.quantized = Tensor::empty(l.original.shape(), DType::F32);
    encode_weights(l.original.data<float>(), static_cast<uint16_t*>(l.words.raw_data()), n, l.resolved);
    decode_weights(static_cast<const uint16_t*>(l.words.raw_data()), l.quantized.data<float>(), n, l.resolved);
    words.push_back(l.words);
    quantized.push_back(l.quantized);
  }
  const Device device = model.layers.begin()->second.fwd_weight.device();
  const std::vector<Tensor> words_dev = upload_packed(words, DType::I16, device);
  const std::vector<Tensor> quantized_dev = upload_packed(quantized, DType::F32, device);
  size_t i = 0;
  for (auto& [layer, l] : model.layers) {
    l.words_dev = words_dev[i];
    l.fwd_weight.copy_(quantized_dev[i]);  // on the device: queued, no wait
    ++i;
  }
}

void restore_copy(CopyModel& model) {
  for (auto& [layer, l] : model.layers) l.fwd_weight.copy_(l.original_dev);
}

}  // namespace stuckat::sweep
