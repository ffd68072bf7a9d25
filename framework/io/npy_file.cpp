#include "framework/io/npy_file.h"

#include <cstring>

#include "base/error.h"
#include "framework/io/atomic_file.h"

namespace stuckat {

void write_npy(const std::string& path, const Tensor& t_in, const std::string& what) {
  STUCKAT_CHECK(t_in.dtype() == DType::F32, "write_npy: {} is {}", path, dtype_name(t_in.dtype()));
  const Tensor t = t_in.to(Device::CPU).contiguous();
  std::string shape = "(";
  for (int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  if (t.dim() > 1) shape.resize(shape.size() - 2);
  if (t.dim() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, ending in '\n'.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  const size_t data = static_cast<size_t>(t.numel()) * sizeof(float);
  const size_t at = bytes.size();
  bytes.resize(at + data);
  if (data > 0) std::memcpy(&bytes[at], t.raw_data(), data);
  write_file_atomically(path, bytes, what);
}

}  // namespace stuckat
