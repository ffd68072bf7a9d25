// NumPy .npy reader for 2-D float32/float64 C-order arrays (format versions 1.0, 2.0, 3.0):
// magic "\x93NUMPY", version, header length, a Python-dict header, raw little-endian data.
#include <cstring>
#include <fstream>
#include <regex>

#include "crossbar/matrix_files.h"
#include "base/error.h"

namespace stuckat::xbar {

SparseMatrix read_npy_matrix(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error("cannot open matrix file {}", path);
  char magic[8] = {};
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0 || magic[6] < 1 || magic[6] > 3)
    throw_input_error("{} is not a .npy file (bad magic or version)", path);
  uint32_t header_len = 0;
  unsigned char len_bytes[4] = {};
  const int len_size = magic[6] == 1 ? 2 : 4;
  if (!in.read(reinterpret_cast<char*>(len_bytes), len_size)) throw_input_error("{}: truncated .npy header", path);
  for (int i = len_size - 1; i >= 0; --i) header_len = header_len * 256 + len_bytes[i];
  // The length is checked before the header is allocated (version 2 and 3 allow 4 GB).
  if (header_len > (1u << 20)) throw_input_error("{}: .npy header of {} bytes; expected at most 1 MiB", path, header_len);
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw_input_error("{}: truncated .npy header", path);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([<|>=]?)([fiu])(\\d+)'")))
    throw_input_error("{}: .npy header has no 'descr'", path);
  const std::string endian = m[1], kind = m[2], bytes = m[3];
  const bool f32 = kind == "f" && bytes == "4", f64 = kind == "f" && bytes == "8";
  if (!(f32 || f64) || endian == ">")
    throw_input_error("{}: dtype '{}{}{}' not supported; expected little-endian float32 or float64", path, endian, kind,
                      bytes);
  if (!std::regex_search(header, std::regex("'fortran_order'\\s*:\\s*False")))
    throw_input_error("{}: Fortran-order arrays are not supported; save with np.ascontiguousarray", path);
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(\\s*(\\d+)\\s*,\\s*(\\d+)\\s*,?\\s*\\)")))
    throw_input_error("{}: expected a 2-D array (shape (rows, cols))", path);
  const std::string rows_text = m[1], cols_text = m[2];
  // At most 10 digits each (2^31 - 1 has 10), so the numbers parse without overflow.
  const int64_t rows = rows_text.size() > 10 ? -1 : std::stoll(rows_text);
  const int64_t cols = cols_text.size() > 10 ? -1 : std::stoll(cols_text);
  if (rows < 1 || cols < 1 || rows > INT32_MAX || cols > INT32_MAX)
    throw_input_error("{}: shape ({}, {}) not supported; expected 1 to 2^31 - 1 rows and columns", path, rows_text,
                      cols_text);
  // The header's shape must match the bytes the file holds before anything is allocated for it.
  const std::streamoff data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const int64_t data_bytes = static_cast<int64_t>(in.tellg() - data_start);
  in.seekg(data_start);
  const int64_t element = f32 ? 4 : 8;
  if (rows * cols > data_bytes / element)  // rows * cols < 2^62: no overflow
    throw_input_error("{}: data ends before the {} x {} elements of {} bytes its header announces (the file holds {} "
                      "bytes of data)", path, rows, cols, element, data_bytes);
  if (rows * cols < data_bytes / element || data_bytes % element != 0)
    throw_input_error("{}: {} bytes of data follow the header, not the {} x {} elements of {} bytes it announces", path,
                      data_bytes, rows, cols, element);
  std::vector<float> data(static_cast<size_t>(rows * cols));
  if (f32) {
    if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size() * 4)))
      throw_input_error("{}: data ends before the {} x {} elements its header announces", path, rows, cols);
  } else {
    std::vector<double> d(data.size());
    if (!in.read(reinterpret_cast<char*>(d.data()), static_cast<std::streamsize>(d.size() * 8)))
      throw_input_error("{}: data ends before the {} x {} elements its header announces", path, rows, cols);
    for (size_t i = 0; i < d.size(); ++i) data[i] = static_cast<float>(d[i]);
  }
  SparseMatrix s = csr_from_dense(data.data(), rows, cols);
  s.name = path;
  s.shape = "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
  return s;
}

}  // namespace stuckat::xbar
