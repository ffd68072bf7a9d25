// Model names and the factory.
#include "models/model_zoo.h"

#include "models/lenet5.h"
#include "models/resnet.h"
#include "models/vgg.h"

namespace stuckat {

std::vector<std::string> model_names() {
  return {"lenet5", "lenet5_bn", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "resnet18"};
}

ModelSpec parse_model_name(const std::string& name) {
  ModelSpec spec;
  std::string base = name;
  if (base.size() > 3 && base.compare(base.size() - 3, 3, "_bn") == 0) {
    spec.batch_norm = true;
    base = base.substr(0, base.size() - 3);
  }
  if (base == "lenet5") {
    spec.family = base;
    spec.in_channels = 1;
    spec.in_size = 28;
  } else if (base == "vgg11" || base == "vgg16" || base == "vgg19" || (base == "resnet18" && !spec.batch_norm)) {
    spec.family = base;
    spec.in_channels = 3;
    spec.in_size = 32;
    if (base == "resnet18") spec.batch_norm = true;
  } else {
    std::string valid;
    for (const auto& n : model_names()) valid += (valid.empty() ? "" : ", ") + n;
    throw_input_error("unknown model '{}': expected one of {}", name, valid);
  }
  return spec;
}

void check_model_input(const ModelSpec& spec, int64_t c, int64_t h, int64_t w, const std::string& data_name) {
  if (c == spec.in_channels && h == spec.in_size && w == spec.in_size) return;
  std::string hint;
  if (spec.in_size == 32 && h == 28) hint = "; add --resize 32 --channels 3 to pad and replicate 28x28x1 images";
  throw_input_error("model {} expects {}x{}x{} images but --data {} gives {}x{}x{}{}", spec.name(), spec.in_size,
                    spec.in_size, spec.in_channels, data_name, h, w, c, hint);
}

std::shared_ptr<Module> make_model(const ModelSpec& spec, uint64_t seed, WeightInit init) {
  if (spec.family == "lenet5")
    return std::make_shared<LeNet5>(seed, spec.batch_norm, spec.in_channels, spec.num_classes, init);
  if (spec.family == "resnet18") return std::make_shared<ResNet18>(seed, spec.in_channels, spec.num_classes, init);
  int depth = spec.family == "vgg11" ? 11 : spec.family == "vgg16" ? 16 : 19;
  return std::make_shared<Vgg>(seed, depth, spec.batch_norm, spec.in_channels, spec.num_classes, init);
}

}  // namespace stuckat
