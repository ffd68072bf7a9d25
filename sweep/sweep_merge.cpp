// Merging sweep CSVs (sweep/sweep_merge.h).
#include "sweep/sweep_merge.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "base/error.h"
#include "framework/io/atomic_file.h"
#include "sweep/sweep_csv.h"

namespace stuckat::sweep {
namespace {

template <typename T> void note_value(std::vector<T>& list, const T& v) {
  if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
}

std::string describe(const SweepPoint& p) {
  if (p.baseline) return fmt::format("point {} (the {} baseline)", p.index, p.format);
  return fmt::format("point {} ({} {} bit {} stuck-at-{} rate {} seed {})", p.index, p.format, p.layer, p.bit, p.stuck,
                     p.rate, p.seed);
}

}  // namespace

SweepMergeResult merge_sweep_csvs(const std::vector<std::string>& inputs, const std::string& out) {
  if (inputs.empty()) throw_input_error("merge: name at least one sweep CSV to merge");
  struct Held {
    SweepRow row;
    size_t file;
  };
  std::map<int64_t, Held> rows;
  std::string model;
  for (size_t f = 0; f < inputs.size(); ++f) {
    std::error_code same_ec;
    if (std::filesystem::equivalent(inputs[f], out, same_ec))
      throw_input_error("merge: --out {} is also an input; write the merged rows to a new file", out);
    for (const SweepRow& r : read_sweep_csv(inputs[f]).rows) {
      if (model.empty()) model = r.model;
      if (r.model != model)
        throw_input_error("merge: {} holds rows of model '{}' and {} of model '{}'; shards of one sweep share one model",
                          inputs[rows.begin()->second.file], model, inputs[f], r.model);
      const auto [it, fresh] = rows.emplace(r.point.index, Held{r, f});
      if (!fresh) {
        const bool same = format_sweep_row(it->second.row) == format_sweep_row(r);
        throw_input_error("merge: {} is in both {} and {}{}; shards of one grid never share a point, so remove it from one",
                          describe(r.point), inputs[it->second.file], inputs[f], same ? "" : " with different results");
      }
    }
  }
  // The grid the rows span: each list's values in the order the indices first reach them.
  SweepGrid grid;
  for (const auto& [index, h] : rows) {
    const SweepPoint& p = h.row.point;
    note_value(grid.formats, p.format);
    if (p.baseline) continue;
    note_value(grid.layers, p.layer);
    note_value(grid.bits, p.bit);
    note_value(grid.stuck, p.stuck);
    note_value(grid.rates, p.rate);
    note_value(grid.seeds, p.seed);
  }
  for (const auto& [index, h] : rows) {
    const bool inside = index < grid.size();
    if (!inside || !sweep_row_matches(h.row, sweep_point(grid, index), model))
      throw_input_error("merge: {} of {} does not sit at that index in the grid the inputs span ({} formats x (1 + {} layers x "
                        "{} bits x {} stuck values x {} rates x {} seeds)); the inputs come from different sweeps",
                        describe(h.row.point), inputs[h.file], grid.formats.size(), grid.layers.size(), grid.bits.size(),
                        grid.stuck.size(), grid.rates.size(), grid.seeds.size());
  }
  std::string text = std::string(kSweepCsvHeader) + "\n";
  for (const auto& [index, h] : rows) text += format_sweep_row(h.row) + "\n";
  write_file_atomically(out, text, "merge: --out");
  SweepMergeResult result;
  result.rows = static_cast<int64_t>(rows.size());
  result.grid_points = grid.size();
  result.grid = grid;
  return result;
}

}  // namespace stuckat::sweep
