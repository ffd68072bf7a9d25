// `stuckat xbar`: maps a model's layers (from a checkpoint, or a seeded model magnitude-pruned
// to a global density) or a matrix file onto R x C crossbar tiles, counts tiles and segments,
// runs the reordering strategies side by side, verifies every layout, and writes the table
// (stdout), JSON, CSV and an occupancy picture.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "cli/data_flags.h"
#include "crossbar/gpu_counting.h"
#include "crossbar/layer_matrix.h"
#include "crossbar/layout_verifier.h"
#include "crossbar/matrix_files.h"
#include "crossbar/occupancy_png.h"
#include "crossbar/strategies.h"
#include "crossbar/xbar_report.h"
#include "base/error.h"
#include "framework/io/atomic_file.h"
#include "framework/io/checkpoint.h"
#include "framework/parallel.h"
#include "jobs/model_source.h"
#include "models/model_zoo.h"

namespace stuckat::cli {
namespace {

struct XbarFlags {
  std::string checkpoint, model, matrix, size = "128", rect, strategies = "none,compact,rcm,rcm-sym,rcm-slices,spara,best";
  std::string json, csv, png, device = "cpu", prune_scope = "global";
  double density = 1.0;
  uint64_t seed = 0;
  bool slices = false, no_verify = false;
  int threads = 0;
  int64_t max_dim = limits::kMaxMatrixSide;
};

void write_text(const std::string& path, const std::string& text, const std::string& flag) {
  write_file_atomically(path, text, flag);
}

std::vector<xbar::SparseMatrix> load_matrices(const XbarFlags& f, std::string* source) {
  const int sources = !f.checkpoint.empty() + !f.matrix.empty() + (f.checkpoint.empty() && !f.model.empty());
  if (sources != 1)
    throw_input_error("xbar needs exactly one source: --checkpoint F, --model M [--density D --seed S], or --matrix F");
  if ((!f.checkpoint.empty() || !f.matrix.empty()) && (f.density != 1.0 || f.seed != 0 || f.prune_scope != "global"))
    throw_input_error(
        "--density, --seed and --prune-scope apply to --model alone (a seeded model to prune), not to --checkpoint or --matrix");
  const xbar::PruneScope scope = xbar::parse_prune_scope(f.prune_scope);
  if (!f.matrix.empty()) {
    *source = "matrix " + f.matrix;
    return {xbar::read_matrix_file(f.matrix, "--matrix", f.max_dim)};
  }
  if (!f.checkpoint.empty()) {
    const jobs::ModelSource from = jobs::ModelSource::from_checkpoint(f.checkpoint, f.model);
    std::shared_ptr<Module> model = from.load();
    *source = "checkpoint " + f.checkpoint + " (" + from.name() + ")";
    return xbar::model_matrices(*model);
  }
  const jobs::ModelSource from = jobs::ModelSource::from_model_flag(f.model);
  std::shared_ptr<Module> model = from.build(f.seed);
  const int64_t kept = xbar::prune_magnitude(*model, f.density, scope);
  *source = fmt::format("model {} seed {} magnitude-pruned to {} density {} ({} weights kept)", from.name(), f.seed,
                        scope == xbar::PruneScope::Global ? "global" : "per-layer", f.density, kept);
  return xbar::model_matrices(*model);
}

// Each conv layer as its kernel-position slices (other matrices as they are).
std::vector<xbar::SparseMatrix> kernel_position_slices(const std::vector<xbar::SparseMatrix>& matrices) {
  std::vector<xbar::SparseMatrix> sliced;
  for (const xbar::SparseMatrix& m : matrices) {
    if (m.kernel_positions <= 1) {
      sliced.push_back(m);
      continue;
    }
    for (int64_t p = 0; p < m.kernel_positions; ++p) {
      sliced.push_back(xbar::kernel_position_slice(m, p));
      sliced.back().shape = fmt::format("({}, {})", sliced.back().rows, sliced.back().cols);
    }
  }
  return sliced;
}

int run(const XbarFlags& f) {
  check_threads_flag(f.threads);
  if (f.max_dim < 1) throw_input_error("--max-dim must be >= 1, got {}", f.max_dim);
  if (f.threads > 0) set_num_threads(f.threads);
  if (f.device != "cpu" && f.device != "cuda") throw_input_error("--device must be 'cpu' or 'cuda', got '{}'", f.device);
  if (f.device == "cuda" && !xbar::gpu_counting_available())
    throw_input_error("--device cuda: no CUDA device is available on this machine (or this build has no CUDA backend)");
  const xbar::TileShape shape =
      f.rect.empty() ? xbar::parse_tile_shape(f.size, "--size") : xbar::parse_tile_shape(f.rect, "--rect");
  const std::vector<std::string> strategies = xbar::parse_strategy_list(f.strategies, "--strategy");

  xbar::XbarReport report;
  report.shape = shape;
  std::vector<xbar::SparseMatrix> matrices = load_matrices(f, &report.source);
  if (f.slices) {
    matrices = kernel_position_slices(matrices);
    report.source += "; per kernel-position slices";
  }

  std::vector<xbar::OccupancyRow> pictures;
  for (const xbar::SparseMatrix& m : matrices) {
    xbar::LayerReport layer;
    layer.name = m.name;
    layer.shape = m.shape;
    layer.rows = m.rows;
    layer.cols = m.cols;
    layer.cells = double(m.rows) * double(m.cols);
    layer.counts = f.device == "cuda" ? xbar::count_tiles_gpu(m, shape) : xbar::count_tiles(m, shape);
    layer.bound = xbar::tile_lower_bound(m, shape);
    xbar::OccupancyRow picture;
    picture.label = fmt::format("{} {} -> {} x {}, density {:.3f}%", m.name, m.shape, m.rows, m.cols, 100.0 * m.density());
    picture.panels.push_back(xbar::occupancy_panel("in place", xbar::reorder_none(m, shape)));
    for (const std::string& name : strategies) {
      const auto t0 = std::chrono::steady_clock::now();
      // --device cuda: compaction's map on the GPU; Spara from a CSC built there (its sweep is sequential).
      const bool gpu = f.device == "cuda";
      const xbar::TileAssignment s = gpu && name == "compact" ? xbar::reorder_compact_gpu(m, shape)
                                     : gpu && name == "spara" ? xbar::reorder_spara(m, xbar::transpose_gpu(m), shape)
                                                              : xbar::run_strategy(name, m, shape);
      const int64_t used = xbar::count_assigned_tiles(s);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!f.no_verify) {
        const xbar::LayoutCheck check = xbar::verify_layout(m, xbar::build_layout(m, s, shape));
        if (!check.ok) throw Error(fmt::format("strategy {} on {}: layout check failed: {}", name, m.name, check.problem));
      }
      layer.strategies.push_back({name, used, seconds, !f.no_verify});
      if (!f.png.empty() && name != "none") picture.panels.push_back(xbar::occupancy_panel(name, s));
    }
    report.layers.push_back(std::move(layer));
    if (!f.png.empty()) pictures.push_back(std::move(picture));
  }

  std::printf("%s", xbar::report_table(report).c_str());
  std::printf("%s\n", f.no_verify ? "layouts not verified (--no-verify)"
                                  : "every layout verified: each nonzero in exactly one tile cell, matrix rebuilt exactly");
  if (!f.json.empty()) write_text(f.json, xbar::report_json(report), "--json");
  if (!f.csv.empty()) write_text(f.csv, xbar::report_csv(report), "--csv");
  if (!f.png.empty())
    xbar::write_occupancy_png(f.png, fmt::format("tile occupancy, {} x {} tiles: {}", shape.rows, shape.cols, report.source),
                              pictures);
  return 0;
}

}  // namespace

Runner add_xbar_command(CLI::App& app) {
  auto f = std::make_shared<XbarFlags>();
  CLI::App* cmd = app.add_subcommand(
      "xbar", "Map layers onto crossbar tiles (rows = inputs, cols = outputs), count zero tiles, compare reorderings");
  cmd->add_option("--checkpoint", f->checkpoint, "checkpoint.safetensors (its zero weights are the pruned ones)");
  cmd->add_option("--model", f->model, "architecture: with --checkpoint, overrides the recorded one; alone, a seeded model");
  cmd->add_option("--density", f->density, "with --model alone: keep this fraction of conv/linear weights (largest magnitudes, see --prune-scope)")
      ->capture_default_str();
  cmd->add_option("--seed", f->seed, "with --model alone: initialisation seed")->capture_default_str();
  cmd->add_option("--prune-scope", f->prune_scope,
                  "with --model alone: 'global' (one magnitude threshold for the model) or 'layer' (every layer keeps "
                  "the --density fraction of its own weights)")
      ->capture_default_str();
  cmd->add_option("--matrix", f->matrix, "a matrix file instead of a model: .mtx (Matrix Market coordinate) or .npy (2-D)");
  cmd->add_option("--size", f->size, "tile size S (S x S crossbars), e.g. 128, 64, 8")->capture_default_str();
  cmd->add_option("--rect", f->rect, "rectangular tiles RxC (rows x cols), overrides --size");
  cmd->add_option("--strategy", f->strategies, "comma-separated strategies: none, compact, rcm, rcm-sym, rcm-slices, spara, best")
      ->capture_default_str();
  cmd->add_option("--json", f->json, "write the report as JSON");
  cmd->add_option("--csv", f->csv, "write the report as CSV (one row per layer, then the total)");
  cmd->add_option("--png", f->png, "write tile occupancy pictures (in place and after each strategy)");
  cmd->add_flag("--slices", f->slices, "report each conv layer as its kh*kw kernel-position (in x out) slices");
  cmd->add_flag("--no-verify", f->no_verify, "skip the layout check (for benchmarks)");
  cmd->add_option("--device", f->device, "cpu | cuda: on cuda the counting and the compaction map run on the GPU, and Spara reads a CSC built there by cuSPARSE (its sweep and the other strategies run on the CPU)")->capture_default_str();
  cmd->add_option("--threads", f->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_option("--max-dim", f->max_dim, "most rows or columns a --matrix .mtx may declare (memory grows with them)")
      ->capture_default_str();
  cmd->footer(
      "Lower bound: max(ceil(nnz/(R*C)), ceil(sum_r ceil(k_r/C)/R), ceil(sum_c ceil(k_c/R)/C)) per layer, k_r/k_c the\n"
      "row/column nonzero counts: a tile holds at most R rows, each with at most C of its nonzeros.");
  return [f] { return run(*f); };
}

}  // namespace stuckat::cli
