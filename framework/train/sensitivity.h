// Per-weight sensitivity of the loss: the squared gradient of the mean cross-entropy, averaged
// over a few mini-batches (the diagonal of the empirical Fisher). An error e on weight w raises the
// loss by about 0.5 * F_w * e^2, so sum_w F_w * e_w^2 ranks weight errors across layers; the
// fault-aware placement of `deploy --sensitivity N` weighs each weight's squared error by it.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/nn/module.h"

namespace stuckat {

// For every parameter (named_parameters order): the mean over the first `batches` mini-batches of
// `batch` images of `data` (in order) of the squared gradient, on the host. The model is put in
// eval mode (batch norm with its running statistics) and left as it was; its gradients are dropped.
std::vector<std::pair<std::string, std::vector<float>>> squared_gradients(Module& model, const Dataset& data, int64_t batches,
                                                                          int64_t batch);

}  // namespace stuckat
