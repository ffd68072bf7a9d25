// SweepGrid: the points of a fault sweep (format x layer x bit x stuck x rate x seed, plus one
// clean baseline per format) in one fixed order, numbered by a point index, so a sweep can be
// split into shards and resumed by index alone.
//
// Order: for each format, index-wise: the baseline point (format applied, no faults), then every
// (layer, bit, stuck, rate, seed) with seed varying fastest. Points that fault the same layer are
// therefore contiguous, which lets the runner reuse the activations before that layer.
// Shard i/n owns the points with index % n == i: the shards partition the grid exactly.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stuckat::sweep {

struct SweepGrid {
  std::vector<std::string> formats;  // canonical names ("q4.11", "fp16", ...)
  std::vector<std::string> layers;   // faultable layer names, in model order
  std::vector<int> bits;             // 0..15
  std::vector<int> stuck;            // 0 or 1
  std::vector<double> rates;         // (0, 1]
  std::vector<uint64_t> seeds;

  int64_t points_per_format() const;  // 1 baseline + faulted points
  int64_t size() const;               // all points
};

struct SweepPoint {
  int64_t index = 0;
  std::string format;
  bool baseline = false;  // no faults; layer/bit/stuck/rate/seed unused
  std::string layer;
  int bit = 0, stuck = 0;
  double rate = 0;
  uint64_t seed = 0;
};

// The point at `index` in [0, grid.size()).
SweepPoint sweep_point(const SweepGrid& grid, int64_t index);

struct SweepShard {
  int64_t index = 0, count = 1;  // shard `index` of `count`
  bool owns(int64_t point) const { return point % count == index; }
};

// "i/n" with 0 <= i < n; throws InputError naming --shard otherwise.
SweepShard parse_sweep_shard(const std::string& text);

// Integer lists such as "0-15", "0,1", "3,5-7": each value in [lo, hi], no duplicates, in the
// order written. Throws InputError naming `flag`.
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& flag, int64_t lo, int64_t hi);
// Comma-separated rates, each in (0, 1].
std::vector<double> parse_rate_list(const std::string& text, const std::string& flag);
// "all" or comma-separated names, each one of `valid`; returned in model order (`valid` order).
std::vector<std::string> parse_layer_list(const std::string& text, const std::vector<std::string>& valid);

}  // namespace stuckat::sweep
