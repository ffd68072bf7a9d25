#include "framework/io/metrics_file.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "base/error.h"

namespace stuckat {

std::vector<MetricsRow> read_metrics_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw_input_error("cannot open {}", path);
  std::vector<MetricsRow> rows;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.is_object() || !row.contains("epoch") || !row["epoch"].is_number_integer())
      throw_input_error("{} line {}: expected a JSON object with an integer \"epoch\"", path, line_no);
    const nlohmann::json& e = row["epoch"];
    const int64_t epoch = e.is_number_unsigned()  // past int64's range too
                              ? static_cast<int64_t>(std::min<uint64_t>(e.get<uint64_t>(), kMaxMetricsEpoch + 1))
                              : e.get<int64_t>();
    if (epoch < 1 || epoch > kMaxMetricsEpoch)
      throw_input_error("{} line {}: epoch {} is out of range (1 to {})", path, line_no, e.dump(), kMaxMetricsEpoch);
    rows.push_back({epoch, std::move(row), line, line_no});
  }
  return rows;
}

std::vector<double> metrics_curve(const std::vector<MetricsRow>& rows, const std::string& key, const std::string& path) {
  if (rows.empty()) throw_input_error("{} has no epochs to plot", path);
  std::vector<double> y;
  for (const MetricsRow& row : rows) {
    if (static_cast<int64_t>(y.size()) < row.epoch) y.resize(static_cast<size_t>(row.epoch), NAN);
    double v = NAN;  // a missing field, or null (how a NaN is written), leaves a gap in the curve
    const auto it = row.fields.find(key);
    if (it != row.fields.end() && !it->is_null()) {
      if (!it->is_number())
        throw_input_error("{} line {}: \"{}\" is {}, expected a number", path, row.line_no, key, it->dump());
      v = it->get<double>();
    }
    y[static_cast<size_t>(row.epoch - 1)] = v;
  }
  return y;
}

}  // namespace stuckat
