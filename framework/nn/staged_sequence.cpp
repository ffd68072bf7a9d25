// Cutting a module sequence into forward stages at each conv/linear layer.
#include "framework/nn/staged_sequence.h"

#include "base/error.h"
#include "framework/nn/layers.h"
#include "framework/ops.h"

namespace stuckat {
namespace {

using Steps = std::vector<std::shared_ptr<Module>>;

bool is_layer(const Module* m) { return dynamic_cast<const Conv2d*>(m) || dynamic_cast<const Linear*>(m); }

Tensor run_steps(const Steps& steps, Tensor x) {
  for (const auto& m : steps) x = m->forward(x);
  return x;
}

// Whether each module acts on each channel (dim 1) on its own: batch norm (not after a flatten,
// where its features are no longer whole channels), ReLU, pooling, flatten.
bool channelwise(const Steps& steps) {
  bool flat = false;
  for (const auto& m : steps) {
    const Module* p = m.get();
    if (dynamic_cast<const BatchNorm*>(p)) {
      if (flat) return false;
    } else if (dynamic_cast<const Flatten*>(p)) {
      flat = true;
    } else if (!dynamic_cast<const ReLU*>(p) && !dynamic_cast<const MaxPool2d*>(p) &&
               !dynamic_cast<const AvgPool2d*>(p) && !dynamic_cast<const AdaptiveAvgPool2d*>(p)) {
      return false;
    }
  }
  return true;
}

// `steps` as ForwardStage::after_relu_pool: ReLU and an optional MaxPool2d in either order,
// then an optional Flatten, nothing else.
ForwardStage::ReluPool relu_pool_of(const Steps& steps) {
  ForwardStage::ReluPool r;
  bool relu = false;
  size_t i = 0;
  for (; i < steps.size() && i < 2; ++i) {
    const Module* m = steps[i].get();
    if (dynamic_cast<const ReLU*>(m) && !relu) {
      relu = true;
    } else if (const auto* pool = dynamic_cast<const MaxPool2d*>(m); pool && r.pool_k == 0) {
      r.pool_k = pool->k;
      r.pool_stride = pool->stride;
      r.pool_first = !relu;
    } else {
      break;
    }
  }
  if (i < steps.size() && dynamic_cast<const Flatten*>(steps[i].get())) ++i;
  if (relu && i == steps.size()) {
    r.matches = true;
  } else {
    r = ForwardStage::ReluPool{};
  }
  return r;
}

// The steps on the channels `c` only (eval mode: batch norm uses those channels' running statistics).
Tensor run_steps_on_channels(const Steps& steps, Tensor x, const std::vector<int64_t>& c) {
  for (const auto& m : steps) {
    if (const auto* bn = dynamic_cast<const BatchNorm*>(m.get())) {
      Tensor mean = select_index(bn->running_mean, 0, c), var = select_index(bn->running_var, 0, c);
      x = batch_norm(x, select_index(bn->weight, 0, c), select_index(bn->bias, 0, c), mean, var, false, bn->momentum,
                     bn->eps);
    } else {
      x = m->forward(x);
    }
  }
  return x;
}

}  // namespace

std::vector<ForwardStage> stages_of_sequence(const std::vector<SequenceStep>& steps) {
  std::vector<ForwardStage> stages;
  std::vector<std::shared_ptr<Module>> layers;  // per stage: its layer (null for a leading stage)
  std::vector<Steps> afters;
  for (const SequenceStep& s : steps) {
    STUCKAT_CHECK(s.module != nullptr, "stages_of_sequence: null module");
    if (is_layer(s.module.get())) {
      STUCKAT_CHECK(!s.layer.empty(), "stages_of_sequence: a conv/linear step needs its layer name");
      stages.emplace_back();
      stages.back().layers = {s.layer};
      layers.push_back(s.module);
      afters.emplace_back();
    } else {
      if (stages.empty()) {
        stages.emplace_back();
        layers.push_back(nullptr);
        afters.emplace_back();
      }
      afters.back().push_back(s.module);
    }
  }
  for (size_t k = 0; k < stages.size(); ++k) {
    ForwardStage& st = stages[k];
    const Steps after = afters[k];
    if (!layers[k]) {
      st.run = [after](const Tensor& x) { return run_steps(after, x); };
      continue;
    }
    std::shared_ptr<Module> layer = layers[k];
    st.layer = layer.get();
    st.after = [after](const Tensor& y) { return run_steps(after, y); };
    st.run = [layer, after](const Tensor& x) { return run_steps(after, layer->forward(x)); };
    st.after_relu_pool = relu_pool_of(after);
    if (st.after_relu_pool.matches && st.after_relu_pool.pool_k > 0) {
      // ReLU and the pool in one pass (relu_max_pool2d: the same values, no intermediate tensor
      // on the CPU without gradients), then the flatten if there is one.
      const ForwardStage::ReluPool rp = st.after_relu_pool;
      auto fused = [rp, after](const Tensor& y) {
        Tensor z = relu_max_pool2d(y, rp.pool_k, rp.pool_stride, rp.pool_first);
        return after.size() > 2 ? after[2]->forward(z) : z;
      };
      st.after = fused;
      st.run = [layer, fused](const Tensor& x) { return fused(layer->forward(x)); };
    }
    if (channelwise(after))
      st.after_channels = [after](const Tensor& y, const std::vector<int64_t>& c) {
        return run_steps_on_channels(after, y, c);
      };
  }
  return stages;
}

}  // namespace stuckat
