// Matrix Market coordinate reader (https://math.nist.gov/MatrixMarket/formats.html): banner,
// '%' comments, "rows cols entries", then 1-based "i j [value]" lines.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "crossbar/matrix_files.h"
#include "base/error.h"

namespace stuckat::xbar {
namespace {

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

SparseMatrix read_matrix_market(const std::string& path, int64_t max_side) {
  std::ifstream in(path);
  if (!in) throw_input_error("cannot open matrix file {}", path);
  std::string line;
  if (!std::getline(in, line)) throw_input_error("matrix file {} is empty; expected a %%MatrixMarket header", path);
  std::istringstream banner(lower(line));
  std::string tag, object, format, field, symmetry;
  banner >> tag >> object >> format >> field >> symmetry;
  if (tag != "%%matrixmarket" || object != "matrix" || format != "coordinate")
    throw_input_error("{}: bad header '{}'; expected '%%MatrixMarket matrix coordinate real|integer|pattern general'",
                      path, line.substr(0, 80));
  if (field != "real" && field != "integer" && field != "pattern")
    throw_input_error("{}: unsupported field '{}' in the header; expected real, integer or pattern", path, field);
  if (symmetry != "general")
    throw_input_error("{}: unsupported symmetry '{}' in the header; expected general", path, symmetry);
  const bool pattern = field == "pattern";

  int64_t line_no = 1;
  auto next_data_line = [&](std::string& l) {
    while (std::getline(in, l)) {
      ++line_no;
      const size_t first = l.find_first_not_of(" \t\r");
      if (first == std::string::npos || l[first] == '%') continue;
      return true;
    }
    return false;
  };
  if (!next_data_line(line)) throw_input_error("{}: no size line after the header", path);
  int64_t rows = 0, cols = 0, entries = 0;
  {
    std::istringstream s(line);
    std::string extra;
    if (!(s >> rows >> cols >> entries) || (s >> extra) || rows < 1 || cols < 1 || entries < 0)
      throw_input_error("{}: line {}: bad size line '{}'; expected 'rows cols entries' with rows, cols >= 1", path, line_no,
                        line.substr(0, 80));
    if (rows > INT32_MAX || cols > INT32_MAX)
      throw_input_error("{}: {} x {} is larger than the supported 2^31 - 1 rows/columns", path, rows, cols);
    if (rows > max_side || cols > max_side)
      throw_input_error("{}: {} x {} has more than {} rows or columns (tile maps grow with them); raise --max-dim if "
                        "this is intended", path, rows, cols, max_side);
  }
  std::vector<Triplet> t;
  t.reserve(static_cast<size_t>(std::min<int64_t>(entries, 1 << 26)));
  for (int64_t e = 0; e < entries; ++e) {
    if (!next_data_line(line))
      throw_input_error("{}: ends after {} of the {} entries its size line announces", path, e, entries);
    std::istringstream s(line);
    int64_t i = 0, j = 0;
    double v = 1.0;
    std::string extra;
    if (!(s >> i >> j) || (!pattern && !(s >> v)) || (s >> extra))
      throw_input_error("{}: line {}: bad entry '{}'; expected '{}'", path, line_no, line.substr(0, 80),
                        pattern ? "row col" : "row col value");
    if (i < 1 || i > rows || j < 1 || j > cols)
      throw_input_error("{}: line {}: index ({}, {}) out of range for a {} x {} matrix (indices are 1-based)", path,
                        line_no, i, j, rows, cols);
    t.push_back({i - 1, j - 1, static_cast<float>(v)});
  }
  if (next_data_line(line))
    throw_input_error("{}: line {}: more entries than the {} its size line announces", path, line_no, entries);
  SparseMatrix m;
  m.name = path;
  Triplet dup{};
  if (!csr_from_triplets(std::move(t), rows, cols, &m, &dup))
    throw_input_error("{}: duplicate entry ({}, {}); each position may appear once", path, dup.row + 1, dup.col + 1);
  m.shape = "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
  return m;
}

SparseMatrix read_matrix_file(const std::string& path, const std::string& flag, int64_t max_side) {
  auto ends_with = [&](const std::string& ext) {
    return path.size() >= ext.size() && lower(path.substr(path.size() - ext.size())) == ext;
  };
  if (ends_with(".mtx")) return read_matrix_market(path, max_side);
  if (ends_with(".npy")) return read_npy_matrix(path);
  throw_input_error("{} {}: unknown matrix format; expected a .mtx (Matrix Market) or .npy file", flag, path);
}

}  // namespace stuckat::xbar
