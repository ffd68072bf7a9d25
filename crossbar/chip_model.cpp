// The chip model (crossbar/chip_model.h).
#include "crossbar/chip_model.h"

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "base/error.h"
#include "framework/random.h"

namespace stuckat::xbar {
namespace {

constexpr uint64_t kChipStream = 0x4348495000000000ull;  // "CHIP": cell draws, apart from other uses

bool to_double(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(*v);
}

}  // namespace

ChipFaults parse_chip_faults(const std::string& text, const std::string& flag) {
  const std::string usage =
      "expected rate=R,sa=A:B,seed=S (a fraction R of cells stuck, SA0:SA1 = A:B) or hrs=P,lrs=Q,seed=S (the fraction "
      "stuck at each state), e.g. rate=0.01,sa=1.75:9.04,seed=0";
  ChipFaults c;
  double rate = -1, a = 1, b = 1, hrs = -1, lrs = -1;
  bool have_sa = false;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) throw_input_error("{} '{}': '{}' is not key=value; {}", flag, text, item, usage);
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    double v = 0;
    if (key == "seed") {
      char* end = nullptr;
      const unsigned long long s = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || value[0] == '-' || *end != '\0') throw_input_error("{} '{}': seed must be an integer >= 0", flag, text);
      c.seed = s;
    } else if (key == "sa") {
      const size_t colon = value.find(':');
      if (colon == std::string::npos || !to_double(value.substr(0, colon), &a) || !to_double(value.substr(colon + 1), &b) ||
          a < 0 || b < 0 || a + b <= 0)
        throw_input_error("{} '{}': sa must be A:B with A, B >= 0 and A + B > 0 (SA0:SA1)", flag, text);
      have_sa = true;
    } else if (key == "rate" || key == "hrs" || key == "lrs" || key == "sa0" || key == "sa1") {
      if (!to_double(value, &v) || v < 0 || v > 1) throw_input_error("{} '{}': {} must be a fraction in [0, 1]", flag, text, key);
      if (key == "rate") rate = v;
      if (key == "hrs" || key == "sa0") hrs = v;
      if (key == "lrs" || key == "sa1") lrs = v;
    } else {
      throw_input_error("{} '{}': unknown key '{}'; {}", flag, text, key, usage);
    }
  }
  const bool by_rate = rate >= 0, by_state = hrs >= 0 || lrs >= 0;
  if (by_rate == by_state) throw_input_error("{} '{}': give either rate= (with sa=) or hrs= / lrs=; {}", flag, text, usage);
  if (by_state && have_sa) throw_input_error("{} '{}': sa= goes with rate=, not with hrs= / lrs=", flag, text);
  if (by_rate) {
    c.sa0 = rate * a / (a + b);
    c.sa1 = rate * b / (a + b);
  } else {
    c.sa0 = std::max(0.0, hrs);
    c.sa1 = std::max(0.0, lrs);
  }
  if (c.sa0 + c.sa1 > 1) throw_input_error("{} '{}': the stuck fractions add up to more than 1", flag, text);
  return c;
}

std::string chip_faults_text(const ChipFaults& c) { return fmt::format("sa0={},sa1={},seed={}", c.sa0, c.sa1, c.seed); }

CellState cell_state(const ChipFaults& chip, int64_t tile, int64_t wordline, int64_t column, int64_t cols) {
  uint32_t w[4];
  philox_words(chip.seed, kChipStream + static_cast<uint64_t>(tile), static_cast<uint64_t>(wordline * cols + column), w);
  // 53 random bits: exact enough for any rate.
  const double u = static_cast<double>((static_cast<uint64_t>(w[0]) << 21) ^ (w[1] >> 11)) * (1.0 / 9007199254740992.0);
  if (u < chip.sa0) return kCellSa0;
  if (u < chip.sa0 + chip.sa1) return kCellSa1;
  return kCellOk;
}

std::vector<uint8_t> tile_cell_states(const ChipFaults& chip, int64_t tile, int64_t rows, int64_t cols) {
  std::vector<uint8_t> s(static_cast<size_t>(rows * cols), kCellOk);
  if (chip.sa0 + chip.sa1 <= 0) return s;
#pragma omp parallel for schedule(static) if (rows * cols >= 4096)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) s[size_t(r * cols + c)] = cell_state(chip, tile, r, c, cols);
  return s;
}

int parse_cell_bits(const std::string& text, const std::string& flag) {
  for (int b : {1, 2, 4, 8, 16})
    if (text == std::to_string(b)) return b;
  throw_input_error("{} must be 1, 2, 4, 8 or 16 bits per cell (16 / b cells hold a weight's 16-bit word), got '{}'", flag,
                    text);
}

void sliced_word_masks(const uint8_t* cells, int bits, uint16_t* and_mask, uint16_t* or_mask) {
  const int k = 16 / bits;
  const uint32_t level = (1u << bits) - 1;
  uint32_t a = 0xFFFF, o = 0;
  for (int m = 0; m < k; ++m) {
    const uint32_t field = level << (m * bits);
    if (cells[m] == kCellSa0) a &= ~field;
    if (cells[m] == kCellSa1) o |= field;
  }
  *and_mask = static_cast<uint16_t>(a | o);  // and |= or: the pair's invariant (fault_mask_io.h)
  *or_mask = static_cast<uint16_t>(o);
}

}  // namespace stuckat::xbar
