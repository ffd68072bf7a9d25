// Parsing of --size / --rect.
#include "crossbar/tile_shape.h"

#include <cctype>

#include "base/error.h"

namespace stuckat::xbar {
namespace {

int64_t parse_positive(const std::string& s, const std::string& text, const std::string& flag) {
  if (s.empty() || s.size() > 9) throw_input_error("{} must be a positive tile size like 128 or 256x64, got '{}'", flag, text);
  for (char ch : s)
    if (!std::isdigit(static_cast<unsigned char>(ch)))
      throw_input_error("{} must be a positive tile size like 128 or 256x64, got '{}'", flag, text);
  const int64_t v = std::stoll(s);
  if (v <= 0) throw_input_error("{} must be at least 1, got '{}'", flag, text);
  return v;
}

}  // namespace

TileShape parse_tile_shape(const std::string& text, const std::string& flag) {
  const size_t x = text.find_first_of("xX");
  TileShape t;
  if (x == std::string::npos) {
    t.rows = t.cols = parse_positive(text, text, flag);
  } else {
    t.rows = parse_positive(text.substr(0, x), text, flag);
    t.cols = parse_positive(text.substr(x + 1), text, flag);
  }
  return t;
}

}  // namespace stuckat::xbar
