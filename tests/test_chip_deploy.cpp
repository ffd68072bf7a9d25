// The faulty-chip model and placement: chip specs, cell draws, bit-sliced masks by hand, the
// reference read-back against the placement's slot-based damage, fault-aware placement never
// worse than naive, tile counts at 16 bits per cell equal to the layouts', and the measured
// fraction of touched weights against 1 - (1 - rate)^k; chip maps (measured cells) against drawn
// chips and by hand, bad map files; tiles drawn in parallel against one by one; importance
// (sensitivity) weighting by hand and against the slot-based damage.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "base/error.h"
#include "base/weight_format.h"
#include "base/word_codec.h"
#include "crossbar/chip_cells.h"
#include "crossbar/chip_deploy.h"
#include "crossbar/chip_map.h"
#include "crossbar/chip_model.h"
#include "crossbar/chip_placement.h"
#include "crossbar/layer_matrix.h"
#include "crossbar/strategies.h"
#include "framework/io/safetensors.h"
#include "framework/random.h"

using namespace stuckat;
using namespace stuckat::xbar;

TEST_CASE("chip specs: rate and SA0:SA1 ratio, or rates by state; bad specs refused", "[chip]") {
  const ChipFaults a = parse_chip_faults("rate=0.01,sa=1.75:9.04,seed=3", "--chip");
  REQUIRE(a.sa0 == Approx(0.01 * 1.75 / 10.79));
  REQUIRE(a.sa1 == Approx(0.01 * 9.04 / 10.79));
  REQUIRE(a.seed == 3);
  const ChipFaults b = parse_chip_faults("hrs=0.0175,lrs=0.0904", "--chip");
  REQUIRE(b.sa0 == Approx(0.0175));
  REQUIRE(b.sa1 == Approx(0.0904));
  const ChipFaults c = parse_chip_faults("rate=0.02", "--chip");  // 1:1 by default
  REQUIRE(c.sa0 == Approx(0.01));
  for (const char* bad : {"rate=2", "rate=0.1,hrs=0.1", "hrs=0.7,lrs=0.6", "rate=0.1,sa=1", "seed=-1,rate=0.1", "x=1", "rate",
                          "hrs=0.1,sa=1:2"})
    REQUIRE_THROWS_AS(parse_chip_faults(bad, "--chip"), InputError);
  REQUIRE(parse_cell_bits("4", "--cell-bits") == 4);
  REQUIRE_THROWS_AS(parse_cell_bits("3", "--cell-bits"), InputError);
}

TEST_CASE("cell draws: the spec's fractions, per chip seed, independent of what is asked first", "[chip]") {
  ChipFaults chip = parse_chip_faults("rate=0.05,sa=1:3,seed=7", "--chip");
  int64_t sa0 = 0, sa1 = 0, n = 0;
  for (int64_t t = 0; t < 20; ++t) {
    const std::vector<uint8_t> s = tile_cell_states(chip, t, 128, 128);
    for (uint8_t v : s) sa0 += v == kCellSa0, sa1 += v == kCellSa1, ++n;
  }
  // Binomial: 327,680 cells, expected 4,096 SA0 (sd 63) and 12,288 SA1 (sd 109): 5 sd bounds.
  REQUIRE(std::abs(double(sa0) - 0.0125 * n) < 5 * std::sqrt(0.0125 * n));
  REQUIRE(std::abs(double(sa1) - 0.0375 * n) < 5 * std::sqrt(0.0375 * n));
  REQUIRE(cell_state(chip, 3, 10, 20, 128) == tile_cell_states(chip, 3, 128, 128)[10 * 128 + 20]);
  ChipFaults other = chip;
  other.seed = 8;
  REQUIRE(tile_cell_states(chip, 0, 64, 64) != tile_cell_states(other, 0, 64, 64));
}

TEST_CASE("bit-sliced masks: a stuck cell forces its b bits, cell 0 the least significant", "[chip]") {
  uint16_t a = 0, o = 0;
  std::vector<uint8_t> cells(16, kCellOk);
  cells[0] = kCellSa0;  // b = 2: bits 0-1 -> 0
  cells[2] = kCellSa1;  // bits 4-5 -> 1
  sliced_word_masks(cells.data(), 2, &a, &o);
  REQUIRE(a == uint16_t(0xFFFC));
  REQUIRE(o == uint16_t(0x0030));
  REQUIRE(uint16_t((0x1234 & a) | o) == uint16_t(0x1234));  // 0x1234: bits 4-5 were 1 already, bits 0-1 0 already
  REQUIRE(uint16_t((0xFFFF & a) | o) == uint16_t(0xFFFC));
  cells.assign(16, kCellOk);
  cells[7] = kCellSa1;  // b = 2, cell 7: bits 14-15
  sliced_word_masks(cells.data(), 2, &a, &o);
  REQUIRE(o == uint16_t(0xC000));
  cells.assign(16, kCellOk);
  cells[0] = kCellSa0;  // b = 16: the whole word reads 0
  sliced_word_masks(cells.data(), 16, &a, &o);
  REQUIRE(a == 0);
  REQUIRE(o == 0);
  cells[0] = kCellSa1;  // ... or 0xFFFF
  sliced_word_masks(cells.data(), 16, &a, &o);
  REQUIRE(o == uint16_t(0xFFFF));
}

namespace {
// A pruned random layer (out, in, kh, kw).
std::vector<float> random_layer(const std::vector<int64_t>& shape, double density, uint64_t seed) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> w(static_cast<size_t>(n));
  RandomStream rng(seed, 11);
  for (float& v : w) {
    const float u = rng.next_uniform();
    v = u < density ? (rng.next_uniform() - 0.5f) * 2.0f : 0.0f;
  }
  return w;
}
// Fault-aware orders for every tile of `p`, each checked never worse than where it started;
// returns the layer's damage after.
double optimise_every_tile(const LayerTiles& L, std::vector<TilePlacement>& p, ChipCells& chip) {
  double damage = 0;
  for (int64_t t = 0; t < L.tiles(); ++t) {
    const double before = tile_damage(L, t, p[size_t(t)], chip);
    const double after = optimise_tile_orders(L, t, p[size_t(t)], chip);
    REQUIRE(after <= before + 1e-12);
    damage += after;
  }
  return damage;
}
}  // namespace

TEST_CASE("read-back: cell by cell equals the slot-based damage; fault-aware never worse; b = 1 equals bit faults",
          "[chip]") {
  const std::vector<int64_t> shape{40, 12, 3, 3};  // a 108 x 40 matrix
  for (double density : {1.0, 0.3}) {
    const std::vector<float> w = random_layer(shape, density, 5);
    const SparseMatrix a = layer_matrix("conv", w.data(), shape);
    for (int bits : {1, 2, 4, 16}) {
      const int k = 16 / bits;
      const TileShape cells{32, 32}, weight_tile{32, 32 / k};
      for (const std::string& strategy : {std::string("none"), std::string("compact")}) {
        const TileLayout layout = build_layout(a, run_strategy(strategy, a, weight_tile), weight_tile);
        REQUIRE(layout.tiles() == count_assigned_tiles(run_strategy(strategy, a, weight_tile)));
        const LayerTiles L = make_layer_tiles("conv", w.data(), a, layout, parse_weight_format("q4.11", "--quant"));
        ChipCells chip(parse_chip_faults("rate=0.03,sa=1.75:9.04,seed=1", "--chip"), cells.rows, cells.cols, bits);
        const std::vector<TilePlacement> naive = naive_placement(L, 0);
        const LayerReadBack rb = read_back_layer(L, naive, chip);
        double slots = 0;
        for (int64_t t = 0; t < L.tiles(); ++t) slots += tile_damage(L, t, naive[size_t(t)], chip);
        REQUIRE(rb.counts.squared_error == Approx(slots).epsilon(1e-12));
        // Every held weight reads (word & and) | or of its own masks.
        for (size_t e = 0; e < w.size(); ++e) {
          const uint16_t read = uint16_t((L.words[e] & rb.masks.and_mask[e]) | rb.masks.or_mask[e]);
          const WeightFormat& f = L.format;
          if (rb.counts.shadow_cells_nonzero == 0) REQUIRE(rb.weights[e] == decode_word(read, f.kind, f.step()));
        }
        // Fault-aware: per tile never worse, and the reference agrees with its damage.
        std::vector<TilePlacement> aware = naive;
        const double damage = optimise_every_tile(L, aware, chip);
        const LayerReadBack rb2 = read_back_layer(L, aware, chip);
        REQUIRE(rb2.counts.squared_error == Approx(damage).epsilon(1e-12));
        REQUIRE(rb2.counts.squared_error <= rb.counts.squared_error);
        if (bits == 2 && density == 0.3) REQUIRE(rb2.counts.squared_error < 0.5 * rb.counts.squared_error);
      }
    }
  }
}

TEST_CASE("the fraction of weights with a stuck cell follows 1 - (1 - rate)^k", "[chip]") {
  const std::vector<int64_t> shape{128, 64, 3, 3};
  const std::vector<float> w = random_layer(shape, 1.0, 9);
  const SparseMatrix a = layer_matrix("conv", w.data(), shape);
  for (int bits : {1, 2, 4}) {
    const int k = 16 / bits;
    const TileShape weight_tile{128, 128 / k};
    const LayerTiles L = make_layer_tiles("conv", w.data(), a, build_layout(a, run_strategy("none", a, weight_tile), weight_tile),
                                          parse_weight_format("q4.11", "--quant"));
    ChipCells chip(parse_chip_faults("rate=0.01,seed=2", "--chip"), 128, 128, bits);
    const LayerReadBack rb = read_back_layer(L, naive_placement(L, 0), chip);
    const double measured = double(rb.counts.weights_touched) / double(rb.counts.weights_on_chip);
    const double theory = 1.0 - std::pow(0.99, k);
    // 73,728 weights: binomial sd below 0.0012.
    REQUIRE(std::abs(measured - theory) < 0.006);
  }
}

TEST_CASE("chip maps: measured cells by hand, the same slots as a drawn chip, bad files refused", "[chip]") {
  const std::string dir = std::filesystem::temp_directory_path() / "stuckat_chip_map_test";
  std::filesystem::create_directories(dir);
  // A drawn chip written as a map reads back the same stuck slots, tile by tile.
  const ChipFaults spec = parse_chip_faults("rate=0.02,sa=1:2,seed=5", "--chip");
  ChipMap drawn;
  drawn.tiles = 3, drawn.rows = 16, drawn.cols = 32;
  for (int64_t t = 0; t < drawn.tiles; ++t) {
    const std::vector<uint8_t> s = tile_cell_states(spec, t, 16, 32);
    drawn.states.insert(drawn.states.end(), s.begin(), s.end());
  }
  write_chip_map(dir + "/drawn.safetensors", drawn);
  auto map = std::make_shared<const ChipMap>(read_chip_map(dir + "/drawn.safetensors", "--chip-map"));
  REQUIRE(map->states == drawn.states);
  ChipCells from_map(map, 4), from_seed(spec, 16, 32, 4);
  for (int64_t t = 0; t < 3; ++t) {
    const auto& a = from_map.stuck_slots(t);
    const auto& b = from_seed.stuck_slots(t);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i)
      REQUIRE((a[i].wordline == b[i].wordline && a[i].column == b[i].column && a[i].and_mask == b[i].and_mask &&
               a[i].or_mask == b[i].or_mask));
  }
  REQUIRE_THROWS_AS(from_map.stuck_slots(3), InputError);  // the chip has 3 tiles
  REQUIRE_THROWS_AS(from_map.prepare(4), InputError);

  // By hand: one tile of 2 x 8 cells, b = 4 (two weights per wordline); cell 1 of weight (0, 1)
  // stuck at LRS, cell 3 of weight (1, 0) at HRS.
  ChipMap hand;
  hand.tiles = 1, hand.rows = 2, hand.cols = 8;
  hand.states.assign(16, kCellOk);
  hand.states[0 * 8 + 1 * 4 + 1] = kCellSa1;
  hand.states[1 * 8 + 0 * 4 + 3] = kCellSa0;
  ChipCells cells(std::make_shared<const ChipMap>(hand), 4);
  const auto& slots = cells.stuck_slots(0);
  REQUIRE(slots.size() == 2);
  REQUIRE((slots[0].wordline == 0 && slots[0].column == 1 && slots[0].or_mask == 0x00F0));
  REQUIRE((slots[1].wordline == 1 && slots[1].column == 0 && slots[1].and_mask == 0x0FFF && slots[1].or_mask == 0));

  // Bad files: another dtype, a state past 2, no "cell_states", not safetensors.
  write_safetensors(dir + "/f32.safetensors", {{"cell_states", Tensor::zeros({1, 2, 8})}}, {});
  REQUIRE_THROWS_AS(read_chip_map(dir + "/f32.safetensors", "--chip-map"), InputError);
  hand.states[5] = 3;
  write_chip_map(dir + "/state3.safetensors", hand);
  REQUIRE_THROWS_WITH(read_chip_map(dir + "/state3.safetensors", "--chip-map"), Catch::Contains("tile 0 wordline 0 cell 5"));
  write_safetensors(dir + "/other.safetensors", {{"cells", Tensor::zeros({1, 2, 8}, DType::U8)}}, {});
  REQUIRE_THROWS_AS(read_chip_map(dir + "/other.safetensors", "--chip-map"), InputError);
  std::FILE* junk = std::fopen((dir + "/junk.safetensors").c_str(), "wb");
  std::fputs("not a chip", junk);
  std::fclose(junk);
  REQUIRE_THROWS_AS(read_chip_map(dir + "/junk.safetensors", "--chip-map"), InputError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("prepared tiles: the same slots as drawn one by one; parallel fault-aware placement as serial", "[chip]") {
  const std::vector<int64_t> shape{96, 40, 3, 3};  // 360 x 96
  const std::vector<float> w = random_layer(shape, 0.2, 3);
  const SparseMatrix a = layer_matrix("conv", w.data(), shape);
  const TileShape weight_tile{64, 16};
  const LayerTiles L = make_layer_tiles("conv", w.data(), a, build_layout(a, run_strategy("none", a, weight_tile), weight_tile),
                                        parse_weight_format("q4.11", "--quant"));
  const ChipFaults spec = parse_chip_faults("rate=0.02,sa=1.75:9.04,seed=9", "--chip");
  ChipCells lazy(spec, 64, 128, 2), prepared(spec, 64, 128, 2);
  read_back_layer(L, naive_placement(L, 0), prepared);  // draws the tiles' states, not their slots
  REQUIRE_FALSE(prepared.prepared(L.tiles()));
  prepared.prepare(L.tiles());
  REQUIRE(prepared.prepared(L.tiles()));
  std::vector<TilePlacement> serial = naive_placement(L, 0), parallel = serial;
  std::vector<double> ds(size_t(L.tiles())), dp(size_t(L.tiles()));
  for (int64_t t = 0; t < L.tiles(); ++t) ds[size_t(t)] = optimise_tile_orders(L, t, serial[size_t(t)], lazy);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < L.tiles(); ++t) dp[size_t(t)] = optimise_tile_orders(L, t, parallel[size_t(t)], prepared);
  for (int64_t t = 0; t < L.tiles(); ++t) {
    REQUIRE(ds[size_t(t)] == dp[size_t(t)]);
    REQUIRE(serial[size_t(t)].row_pos == parallel[size_t(t)].row_pos);
    REQUIRE(serial[size_t(t)].col_pos == parallel[size_t(t)].col_pos);
  }
}

TEST_CASE("importance: the placement spends a stuck cell on the weight that matters least", "[chip]") {
  // By hand: a linear layer (1 output, 2 inputs) of two equal weights 0.5 on one tile of 2 x 1
  // cells (b = 16); wordline 0's cell is stuck at LRS (reads 0xFFFF, -1/2048 in q4.11), so the
  // weight on wordline 0 reads -1/2048 instead of 0.5.
  const std::vector<float> w{0.5f, 0.5f};
  const SparseMatrix a = layer_matrix("fc", w.data(), {1, 2});
  const TileShape tile{2, 1};
  ChipMap hand;
  hand.tiles = 1, hand.rows = 2, hand.cols = 1;
  hand.states = {kCellSa1, kCellOk};
  auto map = std::make_shared<const ChipMap>(hand);
  const double e = (0.5 + 1.0 / 2048) * (0.5 + 1.0 / 2048);
  for (int heavy : {0, 1}) {
    LayerTiles L = make_layer_tiles("fc", w.data(), a, build_layout(a, run_strategy("none", a, tile), tile),
                                    parse_weight_format("q4.11", "--quant"));
    L.importance = {1.0f, 1.0f};
    L.importance[size_t(heavy)] = 10.0f;
    ChipCells chip(map, 16);
    std::vector<TilePlacement> p = naive_placement(L, 0);
    const double damage = optimise_tile_orders(L, 0, p[0], chip);
    REQUIRE(damage == Approx(e));                        // the light weight takes the stuck cell
    REQUIRE(p[0].row_pos[size_t(1 - heavy)] == 0);       // on wordline 0
    const LayerReadBack rb = read_back_layer(L, p, chip);
    REQUIRE(rb.counts.squared_error == Approx(e));
    REQUIRE(rb.counts.weighted_error == Approx(e));
    REQUIRE(rb.weights[size_t(heavy)] == 0.5f);
    // Naive keeps weight 0 on wordline 0: weighted 10 e when it is the heavy one.
    const LayerReadBack nb = read_back_layer(L, naive_placement(L, 0), chip);
    REQUIRE(nb.counts.weighted_error == Approx(heavy == 0 ? 10 * e : e));
  }

  // Random importance (a third of it zero): read-back's weighted error equals the slots' weighted
  // damage, and the weighted optimisation never makes a tile worse.
  const std::vector<int64_t> shape{40, 12, 3, 3};
  const std::vector<float> rw = random_layer(shape, 0.5, 7);
  const SparseMatrix ra = layer_matrix("conv", rw.data(), shape);
  const TileShape weight_tile{32, 4};  // 32 x 32 cells at b = 2
  LayerTiles L = make_layer_tiles("conv", rw.data(), ra, build_layout(ra, run_strategy("none", ra, weight_tile), weight_tile),
                                  parse_weight_format("q4.11", "--quant"));
  RandomStream rng(3, 4);
  for (size_t i = 0; i < rw.size(); ++i) {
    const float u = rng.next_uniform();
    L.importance.push_back(u < 0.33f ? 0.0f : 4.0f * u);
  }
  ChipCells chip(parse_chip_faults("rate=0.03,sa=1.75:9.04,seed=2", "--chip"), 32, 32, 2);
  std::vector<TilePlacement> p = naive_placement(L, 0);
  const double damage = optimise_every_tile(L, p, chip);
  double unweighted_sum = 0;
  const LayerReadBack rb = read_back_layer(L, p, chip);
  REQUIRE(rb.counts.weighted_error == Approx(damage).epsilon(1e-12));
  L.importance.clear();
  for (int64_t t = 0; t < L.tiles(); ++t) unweighted_sum += tile_damage(L, t, p[size_t(t)], chip);
  REQUIRE(rb.counts.squared_error == Approx(unweighted_sum).epsilon(1e-12));
}
