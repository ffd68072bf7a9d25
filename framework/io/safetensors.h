// safetensors files: 8-byte little-endian header length, a JSON header mapping tensor names to
// {dtype, shape, data_offsets} (plus an optional "__metadata__" string map), then raw
// little-endian data. Compatible with the Python `safetensors` package.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "framework/tensor.h"

namespace stuckat {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsContent {
  NamedTensors tensors;  // in file order (by data offset)
  std::map<std::string, std::string> metadata;
};

// Writes to path + ".tmp" and renames, so a crash never leaves a half-written file.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata);

// Reads every tensor to the CPU. Throws InputError naming the file when it is truncated, its
// header is not JSON, lies about offsets or sizes, or uses an unknown dtype.
SafetensorsContent read_safetensors(const std::string& path);

// One tensor as the header describes it; offsets are bytes from the start of the data section.
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // by data offset
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // file offset of the data section: 8 + header length
};

// Reads and validates only the header (every check read_safetensors makes, against the actual
// file size), without reading tensor data: for listing a file or picking an architecture.
SafetensorsHeader read_safetensors_header(const std::string& path);

}  // namespace stuckat
