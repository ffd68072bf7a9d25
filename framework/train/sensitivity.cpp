// Squared gradients over a few batches (framework/train/sensitivity.h).
#include "framework/train/sensitivity.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "framework/ops.h"

namespace stuckat {

std::vector<std::pair<std::string, std::vector<float>>> squared_gradients(Module& model, const Dataset& data, int64_t batches,
                                                                          int64_t batch) {
  STUCKAT_CHECK(batches >= 1 && batch >= 1, "squared gradients over {} batches of {}", batches, batch);
  const int64_t n = data.images.size(0);
  if (n == 0) throw_input_error("--sensitivity needs training images, and the training set is empty");
  const bool was_training = model.is_training();
  model.eval();
  const NamedTensorList params = model.named_parameters();
  std::vector<std::pair<std::string, std::vector<float>>> out;
  for (const auto& [name, p] : params) out.emplace_back(name, std::vector<float>(size_t(p.numel()), 0.0f));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  Tensor images, labels;
  int64_t done = 0;
  for (int64_t start = 0; start < n && done < batches; start += batch, ++done) {
    const int64_t count = std::min(batch, n - start);
    gather_batch(data, order, start, count, images, labels);
    for (const auto& np : params) Tensor(np.second).set_grad(Tensor());
    Tensor loss = cross_entropy(model.forward(images), labels);
    loss.backward();
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor& g = params[i].second.grad();
      if (!g.defined()) continue;
      const std::vector<float> v = g.to_vector();
      std::vector<float>& acc = out[i].second;
      for (size_t k = 0; k < v.size(); ++k) acc[k] += v[k] * v[k];
    }
  }
  for (const auto& np : params) Tensor(np.second).set_grad(Tensor());
  for (auto& [name, acc] : out)
    for (float& a : acc) a /= float(done);
  if (was_training) model.train();
  return out;
}

}  // namespace stuckat
