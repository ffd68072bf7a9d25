// Per-layer state of fault-aware training and its checkpointable form.
#include "faults/fault_aware_sgd.h"

#include <cmath>
#include <cstring>

#include "faults/cuda/fault_sgd_update_cuda.h"
#include "faults/faulty_model.h"
#include "base/word_codec.h"
#include "base/error.h"

namespace stuckat {
namespace {

// Splits the model's parameters into the fault-aware layers' weights and the rest.
struct ParamSplit {
  std::vector<Tensor> rest;
  std::vector<std::string> rest_names;
};

ParamSplit other_params(const Module& model, const std::vector<FaultInjection::Layer>& layers) {
  ParamSplit s;
  for (const auto& [name, t] : model.named_parameters()) {
    bool fault_aware = false;
    for (const auto& l : layers) fault_aware = fault_aware || name == l.name + ".weight";
    if (!fault_aware) {
      s.rest.push_back(t);
      s.rest_names.push_back(name);
    }
  }
  return s;
}

const Tensor* find(const OptimizerState& state, const std::string& name) {
  for (const auto& kv : state)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

}  // namespace

FaultAwareSgd::FaultAwareSgd(Module& model, const SgdOptions& sgd, const WeightFormat& format,
                             const std::vector<FaultSpec>& specs, FaultMode mode, float clip_bound,
                             const LayerFaultMaps& masks)
    : options_(sgd), mode_(mode), rest_({}, sgd) {
  FaultInjection injection(model, format, specs, /*quantize_all_layers=*/true, masks);
  ParamSplit split = other_params(model, injection.layers());
  rest_ = Sgd(split.rest, sgd, split.rest_names);
  for (const FaultInjection::Layer& src : injection.layers()) {
    Layer l;
    l.name = src.name;
    l.weight = src.weight;
    l.master = src.clean.clone();
    l.format = resolve_layer_format(format, l.master.data<float>(), l.master.numel());
    l.map = src.map;
    l.clip_bound = clip_bound;
    if (clip_bound <= 0.0f) {
      // the largest magnitude a fault-free weight of this layer has as a word
      const float* w = l.master.data<float>();
      float largest = 0.0f;
      for (int64_t i = 0; i < l.master.numel(); ++i) {
        if (l.map.and_mask[i] != 0xFFFF || l.map.or_mask[i] != 0) continue;
        bool sat = false;
        const float v = std::fabs(decode_word(encode_word(w[i], l.format.kind, l.format.step(), &sat), l.format.kind,
                                              l.format.step()));
        if (v > largest) largest = v;
      }
      l.clip_bound = largest;
    }
    prepare(l);
    layers_.push_back(std::move(l));
  }
}

FaultSgdConfig FaultAwareSgd::config_of(const Layer& l) const {
  FaultSgdConfig c;
  c.lr = options_.lr;
  c.momentum = options_.momentum;
  c.dampening = options_.dampening;
  c.weight_decay = options_.weight_decay;
  c.nesterov = options_.nesterov;
  c.kind = l.format.kind;
  c.step = l.format.step();
  c.mode = mode_;
  c.clip_bound = l.clip_bound;
  return c;
}

void FaultAwareSgd::prepare(Layer& l) {
  STUCKAT_CHECK(l.master.device() == Device::CPU, "fault-aware layer {}: prepare (prune masks) before to(device)", l.name);
  fault_prepare_weights(l.master.data<float>(), l.weight.data<float>(), l.prune.empty() ? nullptr : l.prune.data(),
                        l.map.and_mask.data(), l.map.or_mask.data(), l.master.numel(), config_of(l));
}

void FaultAwareSgd::zero_grad() {
  rest_.zero_grad();
  for (Layer& l : layers_) l.weight.set_grad(Tensor());
}

void FaultAwareSgd::set_lr(float lr) {
  options_.lr = lr;
  rest_.set_lr(lr);
}

void FaultAwareSgd::step() {
  rest_.step();
  for (Layer& l : layers_) {
    const Tensor& g = l.weight.grad();
    if (!g.defined()) continue;
    const FaultSgdConfig c = config_of(l);
    bool first = false;
    if (c.momentum != 0.0f && !l.momentum.defined()) {
      l.momentum = Tensor::empty(l.master.shape(), DType::F32, l.master.device());
      first = true;
    }
    STUCKAT_CHECK(g.device() == l.master.device(), "fault-aware layer {}: gradient on {}, optimizer on {}", l.name,
                  device_name(g.device()), device_name(l.master.device()));
    if (l.master.device() == Device::CUDA) {
      const Tensor gc = g.contiguous();
      fault_sgd_update_cuda(l.master.data<float>(), l.weight.data<float>(), gc.data<float>(),
                            l.momentum.defined() ? l.momentum.data<float>() : nullptr,
                            l.prune_dev.defined() ? static_cast<const uint8_t*>(l.prune_dev.raw_data()) : nullptr,
                            static_cast<const uint16_t*>(l.and_dev.raw_data()),
                            static_cast<const uint16_t*>(l.or_dev.raw_data()), l.master.numel(), c, first);
      continue;
    }
    fault_sgd_update(l.master.data<float>(), l.weight.data<float>(), g.contiguous().data<float>(),
                     l.momentum.defined() ? l.momentum.data<float>() : nullptr,
                     l.prune.empty() ? nullptr : l.prune.data(), l.map.and_mask.data(), l.map.or_mask.data(),
                     l.master.numel(), c, first);
  }
}

void FaultAwareSgd::set_prune_mask(const std::string& layer, const std::vector<uint8_t>& mask) {
  for (Layer& l : layers_)
    if (l.name == layer) {
      STUCKAT_CHECK(static_cast<int64_t>(mask.size()) == l.master.numel(), "prune mask of {} has {} entries, expected {}",
                    layer, mask.size(), l.master.numel());
      l.prune = mask;
      prepare(l);
      if (l.momentum.defined())
        for (int64_t i = 0; i < l.master.numel(); ++i)
          if (mask[static_cast<size_t>(i)] == 0) l.momentum.data<float>()[i] = 0.0f;
      return;
    }
  throw_input_error("prune mask for {}: not a fault-aware layer of this model", layer);
}

void FaultAwareSgd::upload_masks(Layer& l) {
  if (l.master.device() == Device::CPU) {
    l.and_dev = l.or_dev = l.prune_dev = Tensor();
    return;
  }
  const int64_t n = l.master.numel();
  const NamedTensorList masks = fault_mask_tensors(l.name, l.map);  // and, or
  l.and_dev = masks[0].second.to(l.master.device());
  l.or_dev = masks[1].second.to(l.master.device());
  l.prune_dev = Tensor();
  if (!l.prune.empty()) {
    Tensor p = Tensor::empty({n}, DType::U8);
    std::memcpy(p.raw_data(), l.prune.data(), static_cast<size_t>(n));
    l.prune_dev = p.to(l.master.device());
  }
}

void FaultAwareSgd::to(Device device) {
  for (Layer& l : layers_) {
    STUCKAT_CHECK(l.weight.device() == device, "fault-aware layer {}: move the model to {} before its optimizer", l.name,
                  device_name(device));
    l.master = l.master.to(device);
    if (l.momentum.defined()) l.momentum = l.momentum.to(device);
    upload_masks(l);
  }
}

OptimizerState FaultAwareSgd::state() const {
  OptimizerState out = rest_.state();
  for (const Layer& l : layers_) {
    const int64_t n = l.master.numel();
    out.emplace_back("master." + l.name, l.master.to(Device::CPU).clone());
    if (l.momentum.defined()) out.emplace_back("momentum." + l.name + ".weight", l.momentum.to(Device::CPU).clone());
    if (l.map.count_faulty() > 0)  // fault-free layers need no masks (load_state keeps the built map)
      for (auto& kv : fault_mask_tensors(l.name, l.map)) out.push_back(std::move(kv));
    if (!l.prune.empty()) {
      Tensor p = Tensor::empty({n}, DType::U8);
      std::memcpy(p.raw_data(), l.prune.data(), static_cast<size_t>(n));
      out.emplace_back("prune." + l.name, p);
    }
    out.emplace_back("format_scale." + l.name, Tensor::from_vector(std::vector<float>{l.format.scale}, {1}));
    out.emplace_back("clip_bound." + l.name, Tensor::from_vector(std::vector<float>{l.clip_bound}, {1}));
  }
  return out;
}

void FaultAwareSgd::load_state(const OptimizerState& state) {
  rest_.load_state(state);
  for (Layer& l : layers_) {
    const int64_t n = l.master.numel();
    auto get = [&](const std::string& name, DType dtype, int64_t count) -> const Tensor* {
      const Tensor* t = find(state, name);
      if (t == nullptr) return nullptr;
      if (t->dtype() != dtype || t->numel() != count)
        throw_input_error("train state: {} has {} {} values, expected {} {}", name, t->numel(), dtype_name(t->dtype()),
                          count, dtype_name(dtype));
      return t;
    };
    if (const Tensor* t = get("master." + l.name, DType::F32, n)) l.master.copy_(t->contiguous().view(l.master.shape()));
    if (const Tensor* t = get("momentum." + l.name + ".weight", DType::F32, n))
      l.momentum = t->contiguous().view(l.master.shape()).clone().to(l.master.device());
    if (const Tensor* t = get(kFaultAndPrefix + l.name, DType::I16, n))
      std::memcpy(l.map.and_mask.data(), t->contiguous().raw_data(), static_cast<size_t>(n) * 2);
    if (const Tensor* t = get(kFaultOrPrefix + l.name, DType::I16, n))
      std::memcpy(l.map.or_mask.data(), t->contiguous().raw_data(), static_cast<size_t>(n) * 2);
    if (const Tensor* t = get("prune." + l.name, DType::U8, n)) {
      l.prune.resize(static_cast<size_t>(n));
      std::memcpy(l.prune.data(), t->contiguous().raw_data(), static_cast<size_t>(n));
    }
    if (const Tensor* t = get("format_scale." + l.name, DType::F32, 1)) l.format.scale = t->contiguous().data<float>()[0];
    if (const Tensor* t = get("clip_bound." + l.name, DType::F32, 1)) l.clip_bound = t->contiguous().data<float>()[0];
    upload_masks(l);
  }
}

}  // namespace stuckat
