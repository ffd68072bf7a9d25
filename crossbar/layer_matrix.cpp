// Layer -> matrix mapping; magnitude pruning of a seeded model through pruning/ (global or per layer).
#include "crossbar/layer_matrix.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "pruning/global_magnitude.h"
#include "pruning/magnitude_selection.h"
#include "pruning/prune_mask.h"

namespace stuckat::xbar {
namespace {

bool is_mapped_weight(const std::string& name, const Tensor& t) {
  return name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 && (t.dim() == 2 || t.dim() == 4);
}

}  // namespace

SparseMatrix layer_matrix(const std::string& name, const float* w, const std::vector<int64_t>& shape) {
  STUCKAT_CHECK(shape.size() == 2 || shape.size() == 4, "layer {} has a {}-d weight", name, shape.size());
  const int64_t out = shape[0], in = shape[1];
  const int64_t k = shape.size() == 4 ? shape[2] * shape[3] : 1;
  SparseMatrix m;
  m.name = name;
  m.rows = in * k;
  m.cols = out;
  m.kernel_positions = k;
  m.shape = "(";
  for (size_t i = 0; i < shape.size(); ++i) m.shape += (i ? ", " : "") + std::to_string(shape[i]);
  m.shape += ")";
  // Row r = i*k + p of the matrix is w[o][i][p] for every output o: w viewed as (out, rows).
  m.row_ptr.assign(static_cast<size_t>(m.rows) + 1, 0);
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      const float v = w[o * m.rows + r];
      if (v == 0.0f) continue;
      m.col_idx.push_back(static_cast<int32_t>(o));
      m.values.push_back(v);
    }
    m.row_ptr[r + 1] = m.nnz();
  }
  return m;
}

std::vector<SparseMatrix> model_matrices(const Module& model) {
  std::vector<SparseMatrix> out;
  for (const auto& [name, t] : model.named_parameters()) {
    if (!is_mapped_weight(name, t)) continue;
    const Tensor w = t.to(Device::CPU).contiguous();
    out.push_back(layer_matrix(name.substr(0, name.size() - 7), w.data<float>(), w.shape()));
  }
  return out;
}

const char* prune_scope_name(PruneScope scope) { return scope == PruneScope::Global ? "global" : "layer"; }

PruneScope parse_prune_scope(const std::string& text) {
  if (text == "global") return PruneScope::Global;
  if (text == "layer") return PruneScope::Layer;
  throw_input_error("--prune-scope must be global or layer, got '{}'", text);
}

int64_t prune_magnitude(Module& model, double density, PruneScope scope) {
  if (!(density > 0.0 && density <= 1.0)) throw_input_error("--density must be in (0, 1], got {}", density);
  PruneMasks masks = dense_masks(model);
  if (scope == PruneScope::Global) {
    stuckat::prune_global_magnitude(model, masks, kept_count_for_density(total_weights(masks), density));
  } else {
    for (const PrunableLayer& layer : prunable_layers(model)) {
      LayerMask& m = *std::find_if(masks.begin(), masks.end(), [&](const LayerMask& x) { return x.layer == layer.name; });
      const Tensor w = layer.weight.to(Device::CPU).contiguous();
      keep_largest(w.data<float>(), nullptr, m.total(), kept_count_for_density(m.total(), density), m.keep.data());
    }
  }
  apply_masks(model, masks);
  return total_kept(masks);
}

int64_t prune_global_magnitude(Module& model, double density) {
  return prune_magnitude(model, density, PruneScope::Global);
}

}  // namespace stuckat::xbar
