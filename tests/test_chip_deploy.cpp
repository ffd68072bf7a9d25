// The faulty-chip model and placement: chip specs, cell draws, bit-sliced masks by hand, the
// reference read-back against the placement's slot-based damage, fault-aware placement never
// worse than naive, tile counts at 16 bits per cell equal to the layouts', and the measured
// fraction of touched weights against 1 - (1 - rate)^k.
#include <catch2/catch.hpp>

#include <cmath>

#include "base/error.h"
#include "base/weight_format.h"
#include "base/word_codec.h"
#include "crossbar/chip_cells.h"
#include "crossbar/chip_deploy.h"
#include "crossbar/chip_model.h"
#include "crossbar/chip_placement.h"
#include "crossbar/layer_matrix.h"
#include "crossbar/strategies.h"
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
        double damage = 0;
        for (int64_t t = 0; t < L.tiles(); ++t) {
          const double before = tile_damage(L, t, aware[size_t(t)], chip);
          const double after = optimise_tile_orders(L, t, aware[size_t(t)], chip);
          REQUIRE(after <= before + 1e-12);
          damage += after;
        }
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
