// A training run's metrics.jsonl: one JSON object per finished epoch, each with an integer
// "epoch" (1-based) and number (or null, how a NaN is written) fields such as train_loss,
// test_acc, images_per_s. Read by `train --resume` (the rows of the finished epochs) and by
// `plot` (one field per epoch). Every line is checked; a bad one is refused naming the file and
// line.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace stuckat {

struct MetricsRow {
  int64_t epoch = 0;
  nlohmann::json fields;  // the whole object
  std::string line;       // the line as written
  int64_t line_no = 0;    // in the file, for messages
};

// Epochs above this are refused (a curve is an array indexed by epoch).
constexpr int64_t kMaxMetricsEpoch = 100000;

// The rows of `path` in file order (empty lines skipped). Throws InputError naming the file and
// line for a line that is not a JSON object with an integer "epoch" in [1, kMaxMetricsEpoch], and
// for a file that cannot be opened.
std::vector<MetricsRow> read_metrics_file(const std::string& path);

// The values of `key` per epoch (index epoch - 1; the last row of an epoch wins): NaN where an
// epoch has no row, the row has no such field or it is null. Throws InputError naming the file
// and line when the field is present but not a number, and when there are no rows.
std::vector<double> metrics_curve(const std::vector<MetricsRow>& rows, const std::string& key, const std::string& path);

}  // namespace stuckat
