// Strict parsing of --faults strings: every value is checked, so a typo fails loudly instead of
// silently running a different experiment.
#include "faults/fault_spec.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "base/error.h"

namespace stuckat {
namespace {

constexpr const char* kForm = "e.g. layer=conv2,bit=15,stuck=1,rate=0.01,seed=0";

[[noreturn]] void bad(const std::string& text, const std::string& problem) {
  throw_input_error("--faults '{}': {} ({}; keys layer, bit, stuck, rate, seed, target)", text, problem, kForm);
}

bool parse_double(const std::string& s, double* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

void parse_stuck(const std::string& text, const std::string& value, FaultSpec* spec) {
  if (value == "0" || value == "1") {
    spec->sa1_fraction = value == "1" ? 1.0 : 0.0;
  } else if (value.rfind("mix:", 0) == 0) {
    std::string rest = value.substr(4);
    size_t colon = rest.find(':');
    double a = 0, b = 0;
    if (colon == std::string::npos || !parse_double(rest.substr(0, colon), &a) || !parse_double(rest.substr(colon + 1), &b) ||
        a < 0 || b < 0 || a + b <= 0)
      bad(text, fmt::format("stuck={} is not a mix; expected mix:A:B with A, B >= 0 not both 0 (SA0:SA1 ratio)", value));
    spec->sa1_fraction = b / (a + b);
  } else {
    bad(text, fmt::format("stuck={} is not a stuck value; expected 0, 1 or mix:A:B", value));
  }
  spec->stuck_text = value;
}

}  // namespace

FaultSpec parse_fault_spec(const std::string& text) {
  FaultSpec spec;
  std::set<std::string> seen;
  size_t pos = 0;
  if (text.empty()) bad(text, "the spec is empty");
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      bad(text, fmt::format("'{}' is not key=value", item));
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (!seen.insert(key).second) bad(text, fmt::format("key '{}' is given twice", key));
    if (key == "layer") {
      spec.layer = value;
    } else if (key == "bit") {
      uint64_t b = 0;
      if (value == "random") spec.bit = -1;
      else if (parse_u64(value, &b) && b <= 15) spec.bit = static_cast<int>(b);
      else bad(text, fmt::format("bit={} is not a bit position; expected 0..15 (0 = LSB, 15 = MSB) or random", value));
    } else if (key == "stuck") {
      parse_stuck(text, value, &spec);
    } else if (key == "rate") {
      double r = 0;
      if (!parse_double(value, &r) || r < 0.0 || r > 1.0)
        bad(text, fmt::format("rate={} is not a fraction; expected a number in [0, 1]", value));
      spec.rate = r;
    } else if (key == "seed") {
      if (!parse_u64(value, &spec.seed)) bad(text, fmt::format("seed={} is not an unsigned 64-bit integer", value));
    } else if (key == "target") {
      if (value != "all" && value != "nonzero") bad(text, fmt::format("target={} is not all or nonzero", value));
      spec.nonzero_only = value == "nonzero";
    } else {
      bad(text, fmt::format("unknown key '{}'", key));
    }
  }
  for (const char* required : {"bit", "stuck", "rate"})
    if (!seen.count(required)) bad(text, fmt::format("the key '{}' is missing", required));
  return spec;
}

std::string fault_spec_string(const FaultSpec& spec) {
  return fmt::format("layer={},bit={},stuck={},rate={},seed={},target={}", spec.layer,
                     spec.random_bit() ? std::string("random") : std::to_string(spec.bit), spec.stuck_text, spec.rate,
                     spec.seed, spec.nonzero_only ? "nonzero" : "all");
}

}  // namespace stuckat
