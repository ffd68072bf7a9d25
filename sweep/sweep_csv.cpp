// Writing, reading and resuming the sweep CSV.
#include "sweep/sweep_csv.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/error.h"

namespace stuckat::sweep {

const char* const kSweepCsvHeader =
    "index,model,layer,bit,stuck,rate,seed,format,faulty_weights,changed_weights,test_acc,test_loss,nan";

namespace {

constexpr int kColumns = 13;

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> f;
  std::stringstream ss(line);
  std::string item;
  while (std::getline(ss, item, ',')) f.push_back(item);
  if (!line.empty() && line.back() == ',') f.emplace_back();
  return f;
}

bool to_int(const std::string& s, int64_t* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  *v = std::strtoll(s.c_str(), &end, 10);
  return errno == 0 && end == s.c_str() + s.size();
}

bool to_uint(const std::string& s, uint64_t* v) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  *v = std::strtoull(s.c_str(), &end, 10);
  return errno == 0 && end == s.c_str() + s.size();
}

bool to_double(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// What is wrong with a parsed row's values, or empty: a row a sweep could have written has an
// accuracy in [0, 1], a finite loss >= 0 unless its NaN flag is set, a flag of 0 or 1, counts with
// changed <= faulty, and for a fault point a bit in 0..15, a stuck value 0/1 and a rate in (0, 1].
std::string row_problem(const SweepRow& r, int64_t nan) {
  const SweepPoint& p = r.point;
  if (p.index < 0) return "a negative point index";
  if (nan != 0 && nan != 1) return "a NaN flag other than 0 or 1";
  if (!(r.test_acc >= 0 && r.test_acc <= 1)) return "a test_acc outside [0, 1]";
  if (!r.nan && !(std::isfinite(r.test_loss) && r.test_loss >= 0)) return "a test_loss that is not a finite number >= 0";
  if (r.nan && r.test_loss < 0) return "a negative test_loss";
  if (r.faulty_weights < 0 || r.changed_weights < 0 || r.changed_weights > r.faulty_weights)
    return "weight counts that are negative or more changed than faulty";
  if (!p.baseline && (p.bit < 0 || p.bit > 15 || (p.stuck != 0 && p.stuck != 1) || !(p.rate > 0 && p.rate <= 1)))
    return "a bit, stuck value or rate outside 0..15, 0/1, (0, 1]";
  return "";
}

}  // namespace

std::string format_sweep_row(const SweepRow& r) {
  const SweepPoint& p = r.point;
  // "{}" writes the rate as the shortest text that reads back to the same double (resume compares
  // it); accuracy and
  // loss with 9 significant digits are exact enough for any test-set size and stable across runs.
  if (p.baseline)
    return fmt::format("{},{},baseline,,,0,,{},0,0,{:.9g},{:.9g},{}", p.index, r.model, p.format, r.test_acc, r.test_loss,
                       r.nan ? 1 : 0);
  return fmt::format("{},{},{},{},{},{},{},{},{},{},{:.9g},{:.9g},{}", p.index, r.model, p.layer, p.bit, p.stuck,
                     p.rate, p.seed, p.format, r.faulty_weights, r.changed_weights, r.test_acc, r.test_loss,
                     r.nan ? 1 : 0);
}

bool parse_sweep_row(const std::string& line, SweepRow* row, std::string* problem) {
  problem->clear();
  const std::vector<std::string> f = split_fields(line);
  SweepRow r;
  SweepPoint& p = r.point;
  int64_t bit = 0, stuck = 0, nan = 0;
  bool ok = f.size() == kColumns && to_int(f[0], &p.index) && to_double(f[5], &p.rate) &&
            to_int(f[8], &r.faulty_weights) && to_int(f[9], &r.changed_weights) && to_double(f[10], &r.test_acc) &&
            to_double(f[11], &r.test_loss) && to_int(f[12], &nan);
  if (ok) {
    r.model = f[1];
    p.layer = f[2];
    p.format = f[7];
    p.baseline = p.layer == "baseline";
    r.nan = nan != 0;
    if (!p.baseline) {
      ok = to_int(f[3], &bit) && to_int(f[4], &stuck) && to_uint(f[6], &p.seed);
      p.bit = static_cast<int>(bit);
      p.stuck = static_cast<int>(stuck);
    } else {
      p.layer.clear();
    }
  }
  if (!ok) return false;
  *problem = row_problem(r, nan);
  if (!problem->empty()) return false;
  *row = r;
  return true;
}

SweepCsvContents read_sweep_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error("cannot read the sweep CSV {}: {}", path, std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SweepCsvContents out;
  size_t start = 0;
  int line_no = 0;
  while (true) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;  // partial last line: ignored
    const std::string line = text.substr(start, nl - start);
    ++line_no;
    start = nl + 1;
    out.complete_bytes = static_cast<int64_t>(start);
    if (line_no == 1) {
      if (line != kSweepCsvHeader)
        throw_input_error("{} is not a sweep CSV: its first line should be '{}'", path, kSweepCsvHeader);
      continue;
    }
    SweepRow r;
    std::string problem;
    if (!parse_sweep_row(line, &r, &problem)) {
      if (problem.empty()) throw_input_error("{} line {} is not a sweep row of {} columns: '{}'", path, line_no, kColumns, line);
      throw_input_error("{} line {} has {}, which no sweep writes: '{}'; remove the line and --resume runs that point again",
                        path, line_no, problem, line);
    }
    out.rows.push_back(r);
  }
  if (line_no == 0) out.complete_bytes = 0;  // not even a header: start again
  return out;
}

bool sweep_row_matches(const SweepRow& row, const SweepPoint& point, const std::string& model) {
  const SweepPoint& p = row.point;
  if (row.model != model || p.index != point.index || p.format != point.format || p.baseline != point.baseline) return false;
  return p.baseline || (p.layer == point.layer && p.bit == point.bit && p.stuck == point.stuck && p.rate == point.rate &&
                        p.seed == point.seed);
}

SweepCsvWriter::SweepCsvWriter(const std::string& path, bool resume) : path_(path) {
  namespace fs = std::filesystem;
  const bool exists = fs::exists(path);
  if (exists && !resume)
    throw_input_error("--out {} already exists; pass --resume to continue that sweep or choose another file", path);
  int64_t keep = 0;
  if (exists) {
    SweepCsvContents c = read_sweep_csv(path);
    existing_ = std::move(c.rows);
    keep = c.complete_bytes;
    std::error_code ec;
    fs::resize_file(path, static_cast<uintmax_t>(keep), ec);
    if (ec) throw_input_error("cannot truncate the partial last line of {}: {}", path, ec.message());
  }
  file_ = std::fopen(path.c_str(), keep > 0 ? "ab" : "wb");
  if (!file_) throw_input_error("cannot write the sweep CSV {}: {}", path, std::strerror(errno));
  if (keep == 0) {
    std::fprintf(file_, "%s\n", kSweepCsvHeader);
    std::fflush(file_);
  }
}

SweepCsvWriter::~SweepCsvWriter() {
  if (file_) std::fclose(file_);
}

void SweepCsvWriter::append(const SweepRow& row) {
  const std::string line = format_sweep_row(row) + "\n";
  STUCKAT_CHECK(std::fwrite(line.data(), 1, line.size(), file_) == line.size(), "writing {} failed: {}", path_,
                std::strerror(errno));
}

void SweepCsvWriter::flush() {
  STUCKAT_CHECK(std::fflush(file_) == 0, "writing {} failed: {}", path_, std::strerror(errno));
}

}  // namespace stuckat::sweep
