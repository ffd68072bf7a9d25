// The SSL decorator: penalty gradient in, snap after the step, zero groups out as masks.
#include "pruning/ssl_optimizer.h"

#include "base/error.h"
#include "pruning/group_lasso.h"

namespace stuckat {

SslOptimizer::SslOptimizer(Module& model, Optimizer& inner, const SslOptions& options)
    : inner_(inner), options_(options) {
  STUCKAT_CHECK(options.lambda_filter >= 0 && options.lambda_channel >= 0, "group-lasso lambdas must be >= 0");
  for (const PrunableLayer& l : prunable_layers(model))
    if (l.weight.dim() == 4) convs_.push_back(l);
}

void SslOptimizer::step() {
  for (PrunableLayer& l : convs_) {
    Tensor g = l.weight.grad();
    if (!g.defined()) continue;
    if (!g.is_contiguous()) {
      g = g.contiguous();
      l.weight.set_grad(g);
    }
    const Shape& s = l.weight.shape();
    group_lasso_add_grad(l.weight.data<float>(), g.data<float>(), s[0], s[1], s[2] * s[3], options_.lambda_filter,
                         options_.lambda_channel);
  }
  inner_.step();
  const double lr = inner_.lr();
  for (PrunableLayer& l : convs_) {
    const Shape& s = l.weight.shape();
    snap_small_groups(l.weight.data<float>(), s[0], s[1], s[2] * s[3],
                      options_.lambda_filter > 0 ? lr * options_.lambda_filter : -1.0,
                      options_.lambda_channel > 0 ? lr * options_.lambda_channel : -1.0);
  }
}

std::vector<RemovedGroups> ssl_removed_groups(const Module& model, PruneMasks& masks) {
  std::vector<RemovedGroups> out;
  for (const PrunableLayer& l : prunable_layers(model)) {
    if (l.weight.dim() != 4) continue;
    const Shape& s = l.weight.shape();
    const int64_t n_out = s[0], n_in = s[1], k = s[2] * s[3];
    const Tensor c = l.weight.to(Device::CPU).contiguous();
    const GroupZeros z = find_zero_groups(c.data<float>(), n_out, n_in, k);
    out.push_back({l.name, n_out, z.zero_filters(), n_in, z.zero_channels()});
    for (LayerMask& m : masks) {
      if (m.layer != l.name) continue;
      for (int64_t n = 0; n < n_out; ++n)
        for (int64_t ch = 0; ch < n_in; ++ch)
          if (z.filter_zero[static_cast<size_t>(n)] || z.channel_zero[static_cast<size_t>(ch)])
            for (int64_t j = 0; j < k; ++j) m.keep[static_cast<size_t>((n * n_in + ch) * k + j)] = 0;
    }
  }
  return out;
}

}  // namespace stuckat
