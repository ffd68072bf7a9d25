// Mean and spread over chips of `stuckat deploy`'s results (`--chip-seeds 0-9`): one entry per
// layout x placement, in the order they first appear.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace stuckat::jobs {

// `results`: deploy's per-chip rows. Returns [{"layout", "placement", "chips", "test_acc_mean",
// "test_acc_sd" (sample standard deviation, 0 for one chip), "test_acc_min", "test_acc_max",
// "weights_changed_mean", "squared_error_mean"}].
nlohmann::json summarise_chips(const nlohmann::json& results);

// The summary as a text table.
std::string chip_summary_text(const nlohmann::json& summary);

}  // namespace stuckat::jobs
