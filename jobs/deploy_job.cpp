// The deploy job (jobs/deploy_job.h).
#include "jobs/deploy_job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "base/error.h"
#include "base/weight_format.h"
#include "crossbar/chip_cells.h"
#include "crossbar/chip_deploy.h"
#include "crossbar/chip_map.h"
#include "crossbar/chip_placement.h"
#include "crossbar/layer_matrix.h"
#include "crossbar/strategies.h"
#include "crossbar/tile_shape.h"
#include "faults/fault_mask_io.h"
#include "faults/weight_codec.h"
#include "framework/io/atomic_file.h"
#include "framework/io/safetensors.h"
#include "framework/train/sensitivity.h"
#include "framework/train/staged_evaluation.h"
#include "framework/train/trainer.h"
#include "jobs/deploy_summary.h"
#include "jobs/model_source.h"
#include "sweep/sweep_grid.h"

namespace stuckat::jobs {
namespace {

using namespace stuckat::xbar;

// One layout of the whole model: its layers' tiles in model order, physical tiles numbered on.
struct ModelLayout {
  std::string strategy;
  std::vector<LayerTiles> layers;
  std::vector<int64_t> first_physical;  // per layer
  int64_t tiles = 0;
};

struct Placed {
  std::vector<std::vector<TilePlacement>> layers;
  int64_t spares_used = 0;
};

// Fault-aware placement of every layer, then the spares: tiles with the largest damage try each
// free physical tile (spares, and tiles vacated before) and move where their damage is smallest.
Placed place(const ModelLayout& m, Placement how, int64_t spares, ChipCells& chip) {
  Placed out;
  for (size_t l = 0; l < m.layers.size(); ++l) out.layers.push_back(naive_placement(m.layers[l], m.first_physical[l]));
  if (how == Placement::Naive) return out;
  struct Entry {
    double damage;
    size_t layer;
    int64_t tile;
  };
  std::vector<Entry> entries;
  for (size_t l = 0; l < m.layers.size(); ++l)
    for (int64_t t = 0; t < m.layers[l].tiles(); ++t) entries.push_back({0.0, l, t});
  chip.prepare(m.tiles + spares);  // from here on the chip's tiles are only read: tiles in parallel
  STUCKAT_CHECK(chip.prepared(m.tiles + spares), "deploy: the chip's tiles are not ready for parallel placement");
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t e = 0; e < entries.size(); ++e) {
    Entry& en = entries[e];
    en.damage = optimise_tile_orders(m.layers[en.layer], en.tile, out.layers[en.layer][size_t(en.tile)], chip);
  }
  if (spares == 0) return out;
  std::vector<int64_t> free_tiles;
  for (int64_t s = 0; s < spares; ++s) free_tiles.push_back(m.tiles + s);
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.damage > b.damage; });
  // Each spare can take one of the worst tiles; looking at a few more than that finds better pairs.
  const size_t tries = std::min(entries.size(), size_t(2 * spares + 8));
  for (size_t e = 0; e < tries && entries[e].damage > 0; ++e) {
    const Entry& en = entries[e];
    TilePlacement& current = out.layers[en.layer][size_t(en.tile)];
    std::vector<TilePlacement> trials(free_tiles.size(), current);
    std::vector<double> damage(free_tiles.size());
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t f = 0; f < free_tiles.size(); ++f) {
      trials[f].physical = free_tiles[f];
      damage[f] = optimise_tile_orders(m.layers[en.layer], en.tile, trials[f], chip);
    }
    double best = en.damage;
    size_t best_free = free_tiles.size();
    for (size_t f = 0; f < free_tiles.size(); ++f)
      if (damage[f] < best) best = damage[f], best_free = f;
    if (best_free == free_tiles.size()) continue;
    const TilePlacement& best_p = trials[best_free];
    const int64_t vacated = current.physical;
    current = best_p;
    free_tiles[best_free] = vacated;
  }
  for (const auto& layer : out.layers)
    for (const TilePlacement& p : layer) out.spares_used += p.physical >= m.tiles;
  return out;
}

int64_t parse_spares(const std::string& text, int64_t tiles) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= 0) || v > 1e7)
    throw_input_error("--spare-tiles must be a count (e.g. 8) or a fraction of the tiles used (e.g. 0.1), got '{}'", text);
  if (text.find('.') != std::string::npos) return static_cast<int64_t>(std::ceil(v * double(tiles)));
  return static_cast<int64_t>(v);
}

// Importance of each layer's weights from their squared gradients, one training image at a time
// over `images` (the empirical Fisher's diagonal): half every weight alike, half the squared
// gradient over its mean over all layers. The half alike keeps a weight no training image moved (a
// zero gradient) counting, so the placement does not pile errors onto it (measured: the plain
// squared gradient grew the squared error 56x on pruned LeNet-5 for the same accuracy).
std::vector<std::vector<float>> weight_importance(Module& model, const Dataset& train, int64_t images,
                                                  const NamedTensorList& weights) {
  std::vector<std::vector<float>> importance(weights.size());
  for (auto& [name, g] : squared_gradients(model, train, images, 1))
    for (size_t l = 0; l < weights.size(); ++l)
      if (name == weights[l].first + ".weight") importance[l] = std::move(g);
  double sum = 0;
  int64_t count = 0;
  for (size_t l = 0; l < weights.size(); ++l) {
    STUCKAT_CHECK(int64_t(importance[l].size()) == weights[l].second.numel(), "deploy: {} squared gradients for the {} weights of {}",
                  importance[l].size(), weights[l].second.numel(), weights[l].first);
    for (float x : importance[l]) sum += x;
    count += int64_t(importance[l].size());
  }
  const double mean = sum / double(std::max<int64_t>(count, 1));
  for (auto& v : importance)
    for (float& x : v) x = float(0.5 + 0.5 * (mean > 0 ? double(x) / mean : 1.0));
  return importance;
}

}  // namespace

DeployResult run_deploy(const DeployOptions& f) {
  if (f.batch < 1) throw_input_error("--batch must be >= 1, got {}", f.batch);
  const std::string size_flag = f.rect.empty() ? "--size" : "--rect";
  const std::string& size_text = f.rect.empty() ? f.size : f.rect;
  const TileShape cells = parse_tile_shape(size_text, size_flag);
  const int bits = parse_cell_bits(f.cell_bits, "--cell-bits");
  const int k = 16 / bits;
  if (cells.cols < k)
    throw_input_error("{} {}: a tile of {} cells per wordline cannot hold one weight of {} cells (--cell-bits {})", size_flag,
                      size_text, cells.cols, k, bits);
  const TileShape weight_tile{cells.rows, cells.cols / k};
  std::shared_ptr<const ChipMap> chip_map;
  ChipFaults chip;
  if (!f.chip_map.empty()) {
    if (!f.chip.empty() || !f.chip_seeds.empty())
      throw_input_error("--chip-map gives the chip's cells; leave out --chip and --chip-seeds (they draw a chip instead)");
    chip_map = std::make_shared<const ChipMap>(read_chip_map(f.chip_map, "--chip-map"));
    if (chip_map->rows != cells.rows || chip_map->cols != cells.cols)
      throw_input_error("--chip-map {} has tiles of {}x{} cells, but --size says {}x{}; give --size {}x{}", f.chip_map,
                        chip_map->rows, chip_map->cols, cells.rows, cells.cols, chip_map->rows, chip_map->cols);
    int64_t stuck[3] = {0, 0, 0};
    for (uint8_t v : chip_map->states) ++stuck[v];
    chip.sa0 = double(stuck[kCellSa0]) / double(chip_map->states.size());  // measured, for the report
    chip.sa1 = double(stuck[kCellSa1]) / double(chip_map->states.size());
  } else {
    chip = parse_chip_faults(f.chip.empty() ? kDefaultChip : f.chip, "--chip");
  }
  if (!f.chip_map_out.empty() && f.chip_seeds.find_first_of(",-") != std::string::npos)
    throw_input_error("--chip-map-out writes one chip; give one seed in --chip or --chip-seeds, not '{}'", f.chip_seeds);
  std::vector<uint64_t> seeds{chip.seed};
  if (!f.chip_seeds.empty()) {
    seeds.clear();
    for (int64_t s : sweep::parse_int_list(f.chip_seeds, "--chip-seeds", 0, int64_t(1) << 62)) seeds.push_back(uint64_t(s));
    if (seeds.size() > 100000) throw_input_error("--chip-seeds: at most 100000 chips");
  }
  const std::vector<std::string> strategies = parse_strategy_list(f.layouts, "--layout");
  const std::vector<Placement> placements = parse_placement_list(f.placements, "--placement");

  const ModelSource source = ModelSource::from_checkpoint(f.checkpoint, f.model);
  std::string quant = f.quant;
  if (quant.empty()) {
    const auto it = source.metadata().find("quant");
    quant = it == source.metadata().end() || it->second == "none" ? "q4.11" : it->second;
  }
  const WeightFormat format = parse_weight_format(quant, "--quant");
  if (format.is_none()) throw_input_error("--quant none has no 16-bit words to put in cells; choose e.g. q4.11");
  std::shared_ptr<Module> model = source.load();
  DataOptions data_options = f.data;
  if (f.sensitivity < 0) throw_input_error("--sensitivity must be a number of training images >= 0, got {}", f.sensitivity);
  data_options.test_only = f.sensitivity == 0;
  if (f.sensitivity > 0 && (data_options.limit_train == 0 || data_options.limit_train > f.sensitivity))
    data_options.limit_train = f.sensitivity;
  DataSplit data = load_data(data_options);
  const Tensor& im = data.test.images;
  source.check_input(im.size(1), im.size(2), im.size(3), data.test.name);
  for (const std::string* dir : {&f.masks_out, &f.placement_out}) {
    std::error_code ec;
    if (!dir->empty()) std::filesystem::create_directories(*dir, ec);
    if (ec) throw_input_error("cannot create the directory {}: {}", *dir, ec.message());
  }

  // The layers (conv / linear weights) and their clean values.
  std::vector<std::pair<std::string, Tensor>> weights;
  for (const auto& [name, t] : model->named_parameters())
    if ((t.dim() == 2 || t.dim() == 4) && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0)
      weights.emplace_back(name.substr(0, name.size() - 7), t);
  std::vector<std::vector<float>> clean;
  for (const auto& [name, t] : weights) clean.push_back(t.to_vector());
  const std::vector<SparseMatrix> matrices = model_matrices(*model);
  std::vector<std::vector<float>> importance(weights.size());
  if (f.sensitivity > 0) importance = weight_importance(*model, data.train, f.sensitivity, weights);
  STUCKAT_CHECK(matrices.size() == weights.size(), "deploy: {} matrices for {} layers", matrices.size(), weights.size());

  auto set_layer = [&](size_t l, const std::vector<float>& values) {
    Tensor host = Tensor::from_vector(values, weights[l].second.shape());
    Tensor(weights[l].second).copy_(weights[l].second.device() == Device::CPU ? host : host.to(weights[l].second.device()));
  };
  model->to(f.device);
  if (f.device != Device::CPU) data.test.to_device(f.device);

  // The fault-free chip: the quantised weights.
  std::vector<std::vector<float>> quantised;
  for (size_t l = 0; l < weights.size(); ++l) {
    const int64_t n = static_cast<int64_t>(clean[l].size());
    const WeightFormat lf = resolve_layer_format(format, clean[l].data(), n);
    std::vector<uint16_t> words(static_cast<size_t>(n));
    encode_weights(clean[l].data(), words.data(), n, lf);
    std::vector<float> q(static_cast<size_t>(n));
    decode_weights(words.data(), q.data(), n, lf);
    quantised.push_back(q);
  }
  // Each chip's evaluation starts at its first layer that reads back changed, from the clean
  // (quantised) activations kept for the test set (up to 1 GiB; bit for bit the whole forward).
  for (size_t l = 0; l < weights.size(); ++l) set_layer(l, quantised[l]);
  StagedEvaluation staged(*model, data.test, f.batch, int64_t(1) << 30);
  const EpochStats clean_stats = staged.evaluate({});
  auto evaluate_chip = [&](const std::vector<std::vector<float>>& values) {
    std::vector<size_t> changed;
    std::vector<std::string> names;
    for (size_t l = 0; l < weights.size(); ++l)
      if (values[l] != quantised[l]) {
        changed.push_back(l);
        names.push_back(weights[l].first);
        set_layer(l, values[l]);
      }
    const EpochStats st = staged.evaluate(names);
    for (size_t l : changed) set_layer(l, quantised[l]);  // back to the weights the activations were kept for
    return st;
  };

  nlohmann::json report = {{"checkpoint", f.checkpoint}, {"model", source.name()}, {"quant", weight_format_name(format)},
                           {"cell_bits", bits}, {"cells_per_weight", k}, {"tile_cells", fmt::format("{}x{}", cells.rows, cells.cols)},
                           {"chip", chip_map ? "map " + f.chip_map : chip_faults_text(chip)}, {"sensitivity_images", f.sensitivity},
                           {"stuck_fractions", {{"sa0_hrs", chip.sa0}, {"sa1_lrs", chip.sa1}}}, {"clean_test_acc", clean_stats.accuracy},
                           {"theory_weights_touched", 1.0 - std::pow(1.0 - (chip.sa0 + chip.sa1), k)},
                           {"results", nlohmann::json::array()}};
  std::string text = fmt::format("{:<8} {:<12} {:>5} {:>6} {:>7} {:>10} {:>9} {:>9} {:>8} {:>11} {:>8}\n", "layout", "placement",
                                 "chip", "tiles", "spares", "stuck", "touched", "changed", "0->nz", "sq_error", "test_acc");
  int64_t tiles_needed = 0;
  for (const std::string& strategy : strategies) {
    ModelLayout m;
    m.strategy = strategy;
    for (size_t l = 0; l < matrices.size(); ++l) {
      TileLayout layout = build_layout(matrices[l], run_strategy(strategy, matrices[l], weight_tile), weight_tile);
      m.first_physical.push_back(m.tiles);
      m.layers.push_back(make_layer_tiles(weights[l].first, clean[l].data(), matrices[l], std::move(layout), format));
      m.layers.back().importance = importance[l];
      m.tiles += m.layers.back().tiles();
    }
    const int64_t spares = parse_spares(f.spare_tiles, m.tiles);
    tiles_needed = std::max(tiles_needed, m.tiles + spares);
    for (uint64_t seed : seeds) {
      ChipFaults c = chip;
      c.seed = seed;
      ChipCells cells_of_chip = chip_map ? ChipCells(chip_map, bits) : ChipCells(c, cells.rows, cells.cols, bits);
      if (chip_map && m.tiles + spares > chip_map->tiles)
        throw_input_error("--chip-map {} has {} tiles; the {} layout needs {} (tiles used) + {} (spares)", f.chip_map,
                          chip_map->tiles, strategy, m.tiles, spares);
      for (Placement how : placements) {
        const auto t_place = std::chrono::steady_clock::now();
        const Placed placed = place(m, how, spares, cells_of_chip);
        const double place_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_place).count();
        DeployCounts total;
        std::vector<std::vector<float>> read;
        NamedTensors masks;
        for (size_t l = 0; l < m.layers.size(); ++l) {
          LayerReadBack rb = read_back_layer(m.layers[l], placed.layers[l], cells_of_chip);
          const DeployCounts& c1 = rb.counts;
          total.cells_used += c1.cells_used;
          total.stuck_cells_under_weights += c1.stuck_cells_under_weights;
          total.weights_on_chip += c1.weights_on_chip;
          total.weights_touched += c1.weights_touched;
          total.weights_changed += c1.weights_changed;
          total.zero_to_nonzero += c1.zero_to_nonzero;
          total.shadow_cells_nonzero += c1.shadow_cells_nonzero;
          total.squared_error += c1.squared_error;
          total.weighted_error += c1.weighted_error;
          if (!f.masks_out.empty())  // every layer, all-pass ones too: the file always has masks to read
            for (auto& tensor : fault_mask_tensors(m.layers[l].name, rb.masks)) masks.push_back(tensor);
          read.push_back(std::move(rb.weights));
        }
        const auto t_eval = std::chrono::steady_clock::now();
        const EpochStats st = evaluate_chip(read);
        const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_eval).count();
        const std::string tag = fmt::format("{}-{}-chip{}", strategy, placement_name(how), seed);
        nlohmann::json row = {{"layout", strategy},
                              {"placement", placement_name(how)},
                              {"chip_seed", seed},
                              {"cell_bits", bits},
                              {"tiles_used", m.tiles},
                              {"spares", spares},
                              {"spares_used", placed.spares_used},
                              {"cells_used", total.cells_used},
                              {"stuck_cells_under_weights", total.stuck_cells_under_weights},
                              {"weights_on_chip", total.weights_on_chip},
                              {"weights_touched", total.weights_touched},
                              {"weights_changed", total.weights_changed},
                              {"zero_to_nonzero", total.zero_to_nonzero},
                              {"shadow_cells_nonzero", total.shadow_cells_nonzero},
                              {"squared_error", total.squared_error},
                              {"weighted_error", total.weighted_error},
                              {"test_acc", st.accuracy},
                              {"test_loss", st.loss},
                              {"placement_seconds", place_seconds},
                              {"evaluation_seconds", eval_seconds}};
        if (!f.masks_out.empty()) {
          const std::string path = (std::filesystem::path(f.masks_out) / (tag + ".safetensors")).string();
          write_safetensors(path, masks, {{"format", "stuckat fault masks"}, {"chip", chip_map ? "map " + f.chip_map : chip_faults_text(c)}, {"layout", strategy},
                                          {"placement", placement_name(how)}, {"quant", weight_format_name(format)}});
          row["masks"] = path;
        }
        if (!f.placement_out.empty()) {
          nlohmann::json layers = nlohmann::json::array();
          for (size_t l = 0; l < m.layers.size(); ++l) {
            const LayerTiles& L = m.layers[l];
            nlohmann::json tiles = nlohmann::json::array();
            for (int64_t t = 0; t < L.tiles(); ++t) {
              const TilePlacement& p = placed.layers[l][size_t(t)];
              const auto rows = std::vector<int32_t>(L.layout.rows.begin() + L.layout.row_ptr[size_t(t)],
                                                     L.layout.rows.begin() + L.layout.row_ptr[size_t(t) + 1]);
              const auto cols = std::vector<int32_t>(L.layout.cols.begin() + L.layout.col_ptr[size_t(t)],
                                                     L.layout.cols.begin() + L.layout.col_ptr[size_t(t) + 1]);
              tiles.push_back({{"physical_tile", p.physical}, {"matrix_rows", rows}, {"wordlines", p.row_pos},
                               {"matrix_cols", cols}, {"weight_columns", p.col_pos}});
            }
            layers.push_back({{"layer", L.name}, {"matrix_rows", L.matrix_rows}, {"matrix_cols", L.matrix_cols}, {"tiles", tiles}});
          }
          const nlohmann::json doc = {{"chip", chip_map ? "map " + f.chip_map : chip_faults_text(c)}, {"tile_cells", {cells.rows, cells.cols}}, {"cell_bits", bits},
                                      {"layout", strategy}, {"placement", placement_name(how)}, {"layers", layers}};
          const std::string path = (std::filesystem::path(f.placement_out) / (tag + ".json")).string();
          write_file_atomically(path, doc.dump() + "\n", "--placement-out");
          row["placement_file"] = path;
        }
        report["results"].push_back(row);
        text += fmt::format("{:<8} {:<12} {:>5} {:>6} {:>7} {:>10} {:>9} {:>9} {:>8} {:>11.4g} {:>8.4f}\n", strategy,
                            placement_name(how), seed, m.tiles, fmt::format("{}/{}", placed.spares_used, spares),
                            total.stuck_cells_under_weights, total.weights_touched, total.weights_changed, total.zero_to_nonzero,
                            total.squared_error, st.accuracy);
      }
    }
  }
  if (!f.chip_map_out.empty()) {  // the chip's cells over every tile a layout used, spares included
    ChipFaults c = chip;
    c.seed = seeds[0];
    ChipCells cells_of_chip = chip_map ? ChipCells(chip_map, bits) : ChipCells(c, cells.rows, cells.cols, bits);
    ChipMap out;
    out.tiles = tiles_needed;
    out.rows = cells.rows;
    out.cols = cells.cols;
    for (int64_t t = 0; t < tiles_needed; ++t) {
      const std::vector<uint8_t>& st = cells_of_chip.states(t);
      out.states.insert(out.states.end(), st.begin(), st.end());
    }
    write_chip_map(f.chip_map_out, out);
  }
  for (size_t l = 0; l < weights.size(); ++l) set_layer(l, clean[l]);  // the model as it was
  text += fmt::format("clean (quantised, fault-free) test_acc {:.4f}; weights touched: theory 1 - (1 - rate)^{} = {:.4f}\n",
                      clean_stats.accuracy, k, report["theory_weights_touched"].get<double>());
  report["summary"] = summarise_chips(report["results"]);
  if (seeds.size() > 1) text += fmt::format("over {} chips:\n{}", seeds.size(), chip_summary_text(report["summary"]));
  if (!f.json.empty()) write_file_atomically(f.json, report.dump(2) + "\n", "--json");
  return {report, text};
}

}  // namespace stuckat::jobs
