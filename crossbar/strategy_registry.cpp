// Strategy names, the --strategy parser and dispatch by name (an explicit switch, no static
// self-registration).
#include "crossbar/strategies.h"
#include "base/error.h"

namespace stuckat::xbar {

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> names{"none", "compact", "rcm", "rcm-sym", "rcm-slices", "spara", "best"};
  return names;
}

std::vector<std::string> parse_strategy_list(const std::string& text, const std::string& flag) {
  std::string valid;
  for (const std::string& n : strategy_names()) valid += (valid.empty() ? "" : ", ") + n;
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string name = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool known = false;
    for (const std::string& n : strategy_names()) known = known || n == name;
    if (!known) throw_input_error("{}: unknown strategy '{}'; expected a comma-separated list of {}", flag, name, valid);
    for (const std::string& seen : out)
      if (seen == name) throw_input_error("{} lists strategy '{}' twice", flag, name);
    out.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

TileAssignment run_strategy(const std::string& name, const SparseMatrix& a, TileShape t) {
  if (name == "none") return reorder_none(a, t);
  if (name == "compact") return reorder_compact(a, t);
  if (name == "rcm") return reorder_rcm(a, t, false);
  if (name == "rcm-sym") return reorder_rcm(a, t, true);
  if (name == "rcm-slices") return reorder_rcm_slices(a, t);
  if (name == "spara") return reorder_spara(a, t);
  if (name == "best") return reorder_best(a, t);
  throw Error("run_strategy: unknown strategy " + name);
}

}  // namespace stuckat::xbar
