// Mean and spread over chips (jobs/deploy_summary.h).
#include "jobs/deploy_summary.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace stuckat::jobs {

nlohmann::json summarise_chips(const nlohmann::json& results) {
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& r : results) {
    std::pair<std::string, std::string> key{r["layout"].get<std::string>(), r["placement"].get<std::string>()};
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [layout, placement] : keys) {
    std::vector<double> acc;
    double changed = 0, error = 0;
    for (const auto& r : results)
      if (r["layout"] == layout && r["placement"] == placement) {
        acc.push_back(r["test_acc"].get<double>());
        changed += r["weights_changed"].get<double>();
        error += r["squared_error"].get<double>();
      }
    const double n = double(acc.size());
    double mean = 0, var = 0;
    for (double a : acc) mean += a / n;
    for (double a : acc) var += (a - mean) * (a - mean);
    out.push_back({{"layout", layout},
                   {"placement", placement},
                   {"chips", acc.size()},
                   {"test_acc_mean", mean},
                   {"test_acc_sd", acc.size() > 1 ? std::sqrt(var / (n - 1)) : 0.0},
                   {"test_acc_min", *std::min_element(acc.begin(), acc.end())},
                   {"test_acc_max", *std::max_element(acc.begin(), acc.end())},
                   {"weights_changed_mean", changed / n},
                   {"squared_error_mean", error / n}});
  }
  return out;
}

std::string chip_summary_text(const nlohmann::json& summary) {
  std::string text = fmt::format("{:<8} {:<12} {:>5} {:>18} {:>8} {:>8} {:>10} {:>11}\n", "layout", "placement", "chips",
                                 "test_acc mean ± sd", "min", "max", "changed", "sq_error");
  for (const auto& s : summary)
    text += fmt::format("{:<8} {:<12} {:>5} {:>9.4f} ± {:<6.4f} {:>8.4f} {:>8.4f} {:>10.1f} {:>11.4g}\n",
                        s["layout"].get<std::string>(), s["placement"].get<std::string>(), s["chips"].get<int64_t>(),
                        s["test_acc_mean"].get<double>(), s["test_acc_sd"].get<double>(), s["test_acc_min"].get<double>(),
                        s["test_acc_max"].get<double>(), s["weights_changed_mean"].get<double>(),
                        s["squared_error_mean"].get<double>());
  return text;
}

}  // namespace stuckat::jobs
