// Layers as crossbar matrices: rows = inputs (wordlines), cols = outputs (bitlines).
//   conv weight (out, in, kh, kw) -> (in*kh*kw, out), row (i*kh + y)*kw + x, column o;
//   linear weight (out, in)       -> (in, out).
// Sources: a model's conv/linear weights (e.g. after loading a checkpoint), or a model built
// from a seed and magnitude-pruned to a global density.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "crossbar/sparse_matrix.h"
#include "framework/nn/module.h"

namespace stuckat::xbar {

// w: (out, in, kh, kw) or (out, in), f32, contiguous, row-major. `name` becomes the matrix name.
SparseMatrix layer_matrix(const std::string& name, const float* w, const std::vector<int64_t>& shape);

// Every conv/linear weight ("<layer>.weight" with 2 or 4 dims) of the model, in parameter order,
// named by layer ("features.0", "fc1").
std::vector<SparseMatrix> model_matrices(const Module& model);

// Keeps the round(density * total) largest-magnitude conv/linear weights of the whole model (one
// global threshold; ties broken by parameter order) and zeroes the rest, in place.
// Returns the number kept. density in (0, 1].
int64_t prune_global_magnitude(Module& model, double density);

// Where the magnitude threshold applies: over the whole model (Global: layers with small
// initial weights can empty out) or within each layer (Layer: every layer keeps round(density *
// its weights), the uniform per-layer density of layer-wise pruning).
enum class PruneScope { Global, Layer };
const char* prune_scope_name(PruneScope scope);
PruneScope parse_prune_scope(const std::string& text);  // "global" | "layer"; InputError otherwise
// prune_global_magnitude with a choice of scope. Returns the number kept.
int64_t prune_magnitude(Module& model, double density, PruneScope scope);

}  // namespace stuckat::xbar
