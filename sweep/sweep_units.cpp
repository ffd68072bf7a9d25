// Units of a distributed sweep (sweep/sweep_units.h).
#include "sweep/sweep_units.h"

#include <cstdlib>

#include "base/error.h"

namespace stuckat::sweep {

std::vector<std::vector<int64_t>> sweep_units(const SweepGrid& grid, const std::vector<int64_t>& points, int64_t max_points) {
  STUCKAT_CHECK(max_points >= 1, "max_points must be >= 1, got {}", max_points);
  std::vector<std::vector<int64_t>> units;
  std::string key, last_key;
  for (int64_t i : points) {
    const SweepPoint p = sweep_point(grid, i);
    key = p.baseline ? "baseline " + std::to_string(i) : p.format + " " + p.layer;
    if (units.empty() || key != last_key || static_cast<int64_t>(units.back().size()) >= max_points) units.emplace_back();
    units.back().push_back(i);
    last_key = key;
  }
  return units;
}

std::string encode_sweep_unit(const std::vector<int64_t>& points) {
  std::string text;
  for (int64_t i : points) text += (text.empty() ? "" : ",") + std::to_string(i);
  return text;
}

std::vector<int64_t> decode_sweep_unit(const std::string& text, const SweepGrid& grid) {
  std::vector<int64_t> points;
  const char* s = text.c_str();
  while (*s) {
    char* end = nullptr;
    const long long v = std::strtoll(s, &end, 10);
    STUCKAT_CHECK(end != s && v >= 0 && v < grid.size() && (points.empty() || v > points.back()),
                  "a sweep unit '{}' holds no ascending point indices of the grid", text.substr(0, 80));
    points.push_back(v);
    s = *end == ',' ? end + 1 : end;
    STUCKAT_CHECK(*end == ',' || *end == '\0', "a sweep unit '{}' is not comma-separated indices", text.substr(0, 80));
  }
  return points;
}

}  // namespace stuckat::sweep
