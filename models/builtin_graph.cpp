#include "models/builtin_graph.h"

#include <map>
#include <set>

#include "base/error.h"

namespace stuckat {
namespace {

// Appends nodes to a spec, naming each value after the node that makes it.
class GraphBuilder {
 public:
  GraphBuilder(GraphSpec& spec, const Module& model) : spec_(spec) {
    for (const auto& [name, t] : model.named_state()) state_[name] = t;
  }
  // A node with one output; returns the output's name.
  std::string node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                   nlohmann::json attrs = nlohmann::json::object()) {
    for (const std::string& in : inputs) use(in);
    // Node names are unique (ONNX runtimes require it): "relu_7" for the unnamed kinds.
    const std::string unique = names_.insert(name).second ? name : name + "_" + std::to_string(spec_.nodes.size());
    names_.insert(unique);
    const std::string out = unique + "_out";
    spec_.nodes.push_back({op, unique, std::move(inputs), {out}, std::move(attrs)});
    return out;
  }
  std::string conv(const std::string& layer, const std::string& x, int64_t k, int64_t stride, int64_t pad, bool bias) {
    std::vector<std::string> in{x, layer + ".weight"};
    if (bias) in.push_back(layer + ".bias");
    return node("Conv", layer, in,
                {{"kernel_shape", {k, k}}, {"strides", {stride, stride}}, {"pads", {pad, pad, pad, pad}}});
  }
  std::string bn(const std::string& layer, const std::string& x) {
    return node("BatchNormalization", layer, {x, layer + ".weight", layer + ".bias", layer + ".running_mean", layer + ".running_var"},
                {{"epsilon", 1e-5f}, {"momentum", 0.9f}});
  }
  std::string gemm(const std::string& layer, const std::string& x) {
    return node("Gemm", layer, {x, layer + ".weight", layer + ".bias"}, {{"transB", 1}});
  }
  std::string relu(const std::string& x) { return node("Relu", "relu", {x}); }
  std::string max_pool(const std::string& x) {
    return node("MaxPool", "pool", {x}, {{"kernel_shape", {2, 2}}, {"strides", {2, 2}}});
  }

 private:
  // A state tensor used by a node becomes a constant (once).
  void use(const std::string& name) {
    const auto it = state_.find(name);
    if (it == state_.end() || used_.count(name)) return;
    used_[name] = true;
    spec_.constants.emplace_back(name, it->second.to(Device::CPU).clone());
  }
  GraphSpec& spec_;
  std::map<std::string, Tensor> state_;
  std::map<std::string, bool> used_;
  std::set<std::string> names_;
};

}  // namespace

GraphSpec builtin_graph(const ModelSpec& spec, const Module& model) {
  GraphSpec g;
  g.opset = 13;
  g.inputs.push_back({"input", {-1, spec.in_channels, spec.in_size, spec.in_size}, DType::F32});
  GraphBuilder b(g, model);
  std::string h = "input";
  if (spec.family == "lenet5") {
    // As LeNet5::forward: the ReLU after the pool (they commute).
    auto norm = [&](const std::string& layer, const std::string& x) { return spec.batch_norm ? b.bn(layer, x) : x; };
    h = b.relu(b.max_pool(norm("bn1", b.conv("conv1", h, 5, 1, 2, true))));
    h = b.relu(b.max_pool(norm("bn2", b.conv("conv2", h, 5, 1, 0, true))));
    h = b.node("Flatten", "flatten", {h}, {{"axis", 1}});
    h = b.relu(norm("bn3", b.gemm("fc1", h)));
    h = b.relu(norm("bn4", b.gemm("fc2", h)));
    h = b.gemm("fc3", h);
  } else if (spec.family == "resnet18") {
    h = b.relu(b.bn("bn1", b.conv("conv1", h, 3, 1, 1, false)));
    const int64_t widths[4] = {64, 128, 256, 512};
    int64_t in = 64;
    for (int s = 0; s < 4; ++s)
      for (int blk = 0; blk < 2; ++blk) {
        const std::string p = "layer" + std::to_string(s + 1) + "." + std::to_string(blk) + ".";
        const int64_t stride = s > 0 && blk == 0 ? 2 : 1;
        std::string y = b.relu(b.bn(p + "bn1", b.conv(p + "conv1", h, 3, stride, 1, false)));
        y = b.bn(p + "bn2", b.conv(p + "conv2", y, 3, 1, 1, false));
        const std::string shortcut =
            stride != 1 || in != widths[s] ? b.bn(p + "shortcut.1", b.conv(p + "shortcut.0", h, 1, stride, 0, false)) : h;
        h = b.relu(b.node("Add", p + "add", {y, shortcut}));
        in = widths[s];
      }
    h = b.node("Flatten", "flatten", {b.node("GlobalAveragePool", "pool", {h})}, {{"axis", 1}});
    h = b.gemm("fc", h);
  } else {  // vgg11 / 16 / 19: walk the features as Vgg registered them
    int64_t index = 0;
    const std::map<std::string, std::vector<int>> configs = {
        {"vgg11", {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0}},
        {"vgg16", {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0}},
        {"vgg19", {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0}}};
    const auto it = configs.find(spec.family);
    STUCKAT_CHECK(it != configs.end(), "builtin_graph: unknown family {}", spec.family);
    for (int v : it->second) {
      const std::string layer = "features." + std::to_string(index);
      if (v == 0) {
        h = b.max_pool(h);
        index += 1;
        continue;
      }
      h = b.conv(layer, h, 3, 1, 1, true);
      if (spec.batch_norm) h = b.bn("features." + std::to_string(index + 1), h);
      h = b.relu(h);
      index += spec.batch_norm ? 3 : 2;
    }
    h = b.node("Flatten", "flatten", {h}, {{"axis", 1}});
    h = b.relu(b.gemm("classifier.0", h));
    h = b.relu(b.gemm("classifier.2", h));
    h = b.gemm("classifier.4", h);
  }
  g.nodes.back().outputs[0] = "logits";
  g.outputs.push_back("logits");
  return g;
}

}  // namespace stuckat
