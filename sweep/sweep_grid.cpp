// Sweep grid enumeration, shards and the list flags of `stuckat sweep`.
#include "sweep/sweep_grid.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include "base/error.h"
#include "base/limits.h"

namespace stuckat::sweep {
namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

bool parse_integer(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  *out = std::strtoll(s.c_str(), nullptr, 10);
  return true;
}

}  // namespace

int64_t SweepGrid::points_per_format() const {
  return 1 + static_cast<int64_t>(layers.size() * bits.size() * stuck.size() * rates.size() * seeds.size());
}

int64_t SweepGrid::size() const { return static_cast<int64_t>(formats.size()) * points_per_format(); }

SweepPoint sweep_point(const SweepGrid& grid, int64_t index) {
  STUCKAT_CHECK(index >= 0 && index < grid.size(), "sweep point {} outside a grid of {}", index, grid.size());
  SweepPoint p;
  p.index = index;
  const int64_t per = grid.points_per_format();
  p.format = grid.formats[static_cast<size_t>(index / per)];
  int64_t r = index % per;
  if (r == 0) {
    p.baseline = true;
    return p;
  }
  r -= 1;
  auto take = [&r](size_t n) {
    size_t i = static_cast<size_t>(r % static_cast<int64_t>(n));
    r /= static_cast<int64_t>(n);
    return i;
  };
  p.seed = grid.seeds[take(grid.seeds.size())];
  p.rate = grid.rates[take(grid.rates.size())];
  p.stuck = grid.stuck[take(grid.stuck.size())];
  p.bit = grid.bits[take(grid.bits.size())];
  p.layer = grid.layers[take(grid.layers.size())];
  return p;
}

SweepShard parse_sweep_shard(const std::string& text) {
  const size_t slash = text.find('/');
  SweepShard s;
  if (slash == std::string::npos || !parse_integer(text.substr(0, slash), &s.index) ||
      !parse_integer(text.substr(slash + 1), &s.count) || s.count < 1 || s.index >= s.count)
    throw_input_error("--shard expects i/n with 0 <= i < n (e.g. 0/4), got '{}'", text);
  return s;
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& flag, int64_t lo, int64_t hi) {
  // The ranges are read and counted first: the list expands only when it is within the cap.
  std::vector<std::pair<int64_t, int64_t>> ranges;
  int64_t count = 0;
  for (const std::string& part : split_commas(text)) {
    const size_t dash = part.find('-');
    int64_t a = 0, b = 0;
    bool ok = dash == std::string::npos ? parse_integer(part, &a) && (b = a, true)
                                        : parse_integer(part.substr(0, dash), &a) && parse_integer(part.substr(dash + 1), &b);
    if (!ok || a > b)
      throw_input_error("{} expects comma-separated integers or ranges such as {}-{} or {},{}, got '{}'", flag, lo, hi, lo,
                        hi, text);
    if (a < lo || b > hi) throw_input_error("{} values must lie in {}..{}, got '{}'", flag, lo, hi, part);
    count += b - a + 1;  // no overflow: a, b within lo..hi and count stays below the cap before it
    if (count > limits::kMaxListValues)
      throw_input_error("{} '{}' lists more than {} values", flag, text, limits::kMaxListValues);
    ranges.emplace_back(a, b);
  }
  std::vector<int64_t> values;
  std::unordered_set<int64_t> seen;
  for (const auto& [a, b] : ranges)
    for (int64_t v = a; v <= b; ++v) {
      if (!seen.insert(v).second) throw_input_error("{} lists {} twice in '{}'", flag, v, text);
      values.push_back(v);
    }
  return values;
}

std::vector<double> parse_rate_list(const std::string& text, const std::string& flag) {
  std::vector<double> rates;
  for (const std::string& part : split_commas(text)) {
    char* end = nullptr;
    const double r = part.empty() ? NAN : std::strtod(part.c_str(), &end);
    if (part.empty() || end != part.c_str() + part.size() || !(r > 0 && r <= 1))
      throw_input_error("{} expects comma-separated fractions in (0, 1] such as 0.01,0.05, got '{}'", flag, text);
    if (std::find(rates.begin(), rates.end(), r) != rates.end()) throw_input_error("{} lists {} twice", flag, part);
    rates.push_back(r);
  }
  return rates;
}

std::vector<std::string> parse_layer_list(const std::string& text, const std::vector<std::string>& valid) {
  if (text == "all") return valid;
  std::vector<std::string> wanted = split_commas(text);
  for (const std::string& name : wanted) {
    if (std::find(valid.begin(), valid.end(), name) == valid.end())
      throw_input_error("--layers: '{}' is not a conv or linear layer of this model; expected all or some of {}", name,
                        fmt::join(valid, ","));
    if (std::count(wanted.begin(), wanted.end(), name) > 1) throw_input_error("--layers lists {} twice", name);
  }
  std::vector<std::string> ordered;
  for (const std::string& name : valid)
    if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) ordered.push_back(name);
  return ordered;
}

}  // namespace stuckat::sweep
