// Layer -> matrix mapping and global magnitude pruning.
#include "crossbar/layer_matrix.h"

#include <algorithm>
#include <cmath>

#include "framework/error.h"

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

int64_t prune_global_magnitude(Module& model, double density) {
  if (!(density > 0.0 && density <= 1.0)) throw_input_error("--density must be in (0, 1], got {}", density);
  std::vector<Tensor> weights;
  std::vector<float> magnitude;
  for (const auto& [name, t] : model.named_parameters()) {
    if (!is_mapped_weight(name, t)) continue;
    STUCKAT_CHECK(t.device() == Device::CPU && t.is_contiguous(), "prune on CPU contiguous weights");
    weights.push_back(t);
    const float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) magnitude.push_back(std::fabs(p[i]));
  }
  const int64_t total = static_cast<int64_t>(magnitude.size());
  const int64_t keep = std::min<int64_t>(total, std::llround(density * double(total)));
  if (keep == total) return total;
  float threshold = 0;  // the keep-th largest magnitude
  if (keep > 0) {
    std::vector<float> m = magnitude;
    std::nth_element(m.begin(), m.begin() + (keep - 1), m.end(), std::greater<float>());
    threshold = m[keep - 1];
  }
  int64_t above = 0;
  for (float v : magnitude) above += v > threshold;
  int64_t ties_left = keep - above;  // weights equal to the threshold kept, in parameter order
  int64_t kept = 0;
  for (Tensor& t : weights) {
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float a = std::fabs(p[i]);
      const bool keep_it = keep > 0 && (a > threshold || (a == threshold && ties_left-- > 0));
      if (keep_it) ++kept;
      else p[i] = 0.0f;
    }
  }
  return kept;
}

}  // namespace stuckat::xbar
