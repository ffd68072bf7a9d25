// The model families of the research (exact layer shapes, PyTorch-style parameter names) and a
// name -> model factory used by the CLI and the checkpoint loader.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/nn/layers.h"
#include "framework/nn/module.h"

namespace stuckat {

struct ModelSpec {
  std::string family;       // lenet5 | vgg11 | vgg16 | vgg19 | resnet18
  bool batch_norm = false;  // "_bn" suffix in the name
  int64_t in_channels = 1, in_size = 28, num_classes = 10;
  std::string name() const { return family + (batch_norm && family != "resnet18" ? "_bn" : ""); }
};

// Parses "lenet5", "lenet5_bn", "vgg11", "vgg16_bn", "resnet18", ... (resnet18 always has batch
// norm). Throws InputError listing the valid names.
ModelSpec parse_model_name(const std::string& name);
std::vector<std::string> model_names();

// Throws InputError when images of shape (c, h, w) from `data_name` cannot feed the model,
// saying which flags make them fit (e.g. --resize 32 --channels 3).
void check_model_input(const ModelSpec& spec, int64_t c, int64_t h, int64_t w, const std::string& data_name);

// Builds the model with weights initialised from `seed` by `init` (framework/nn/layers.h).
std::shared_ptr<Module> make_model(const ModelSpec& spec, uint64_t seed, WeightInit init = WeightInit::Default);

}  // namespace stuckat
