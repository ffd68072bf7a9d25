// IDX decoding and validation (see idx_reader.h for the format).
#include "framework/data/idx_reader.h"

#include <limits>

#include "framework/data/file_bytes.h"
#include "base/error.h"

namespace stuckat {
namespace {

uint32_t read_be32(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint32_t>(b[at]) << 24 | static_cast<uint32_t>(b[at + 1]) << 16 |
         static_cast<uint32_t>(b[at + 2]) << 8 | static_cast<uint32_t>(b[at + 3]);
}

const char* decompressed_note(const std::string& path) {
  return is_gzip_file(path) ? " after decompression" : "";
}

// Reads the magic and the dimension list; returns the dimensions.
std::vector<uint32_t> read_header(const std::vector<uint8_t>& bytes, const std::string& path, uint32_t magic,
                                  const char* what) {
  size_t ndims = magic & 0xff;
  size_t header_bytes = 4 + 4 * ndims;
  if (bytes.size() < 4)
    throw_input_error("{} is too short to be an IDX {} file: {} bytes{}, expected at least {}", path, what,
                      bytes.size(), decompressed_note(path), header_bytes);
  uint32_t found = read_be32(bytes, 0);
  if (found != magic)
    throw_input_error("{} is not an IDX {} file: magic number 0x{:08x}, expected 0x{:08x}", path, what, found, magic);
  if (bytes.size() < header_bytes)
    throw_input_error("{} is truncated: expected at least {} header bytes, found {} bytes{}", path, header_bytes,
                      bytes.size(), decompressed_note(path));
  std::vector<uint32_t> dims(ndims);
  for (size_t i = 0; i < ndims; ++i) dims[i] = read_be32(bytes, 4 + 4 * i);
  return dims;
}

void check_length(const std::vector<uint8_t>& bytes, const std::string& path, uint64_t expected,
                  const std::string& header_says) {
  if (bytes.size() != expected)
    throw_input_error("{} is {}: its header declares {}, i.e. {} bytes, but the file holds {} bytes{}", path,
                      bytes.size() < expected ? "truncated" : "longer than its header says", header_says, expected,
                      bytes.size(), decompressed_note(path));
}

}  // namespace

RawImages read_idx_images(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  std::vector<uint32_t> dims = read_header(bytes, path, kIdxImagesMagic, "image");
  uint64_t n = dims[0], rows = dims[1], cols = dims[2];
  if (rows == 0 || cols == 0)
    throw_input_error("{} declares images of {}x{} pixels, expected both sides > 0", path, rows, cols);
  // rows * cols fits in 64 bits (two u32); n * rows * cols might not.
  uint64_t image_bytes = rows * cols;
  if (n > (std::numeric_limits<uint64_t>::max() - 16) / image_bytes)
    throw_input_error("{} declares {} images of {}x{} pixels, more bytes than any file can hold", path, n, rows, cols);
  check_length(bytes, path, 16 + n * image_bytes, fmt::format("{} images of {}x{} pixels", n, rows, cols));

  RawImages out;
  out.count = static_cast<int64_t>(n);
  out.channels = 1;
  out.height = static_cast<int64_t>(rows);
  out.width = static_cast<int64_t>(cols);
  bytes.erase(bytes.begin(), bytes.begin() + 16);  // in place: no second copy of 47 MB
  out.pixels = std::move(bytes);
  return out;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  std::vector<uint32_t> dims = read_header(bytes, path, kIdxLabelsMagic, "label");
  uint64_t n = dims[0];
  check_length(bytes, path, 8 + n, fmt::format("{} labels", n));
  bytes.erase(bytes.begin(), bytes.begin() + 8);
  std::vector<uint8_t> labels = std::move(bytes);
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= 10)
      throw_input_error("{} has label {} at record {}, expected a class in 0..9", path, labels[i], i);
  return labels;
}

RawImages read_idx_split(const std::string& images_path, const std::string& labels_path) {
  RawImages images = read_idx_images(images_path);
  std::vector<uint8_t> labels = read_idx_labels(labels_path);
  if (static_cast<int64_t>(labels.size()) != images.count)
    throw_input_error("{} holds {} labels but {} holds {} images; expected one label per image", labels_path,
                      labels.size(), images_path, images.count);
  images.labels = std::move(labels);
  return images;
}

}  // namespace stuckat
