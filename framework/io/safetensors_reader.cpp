// Reading safetensors files defensively: a checkpoint may come from anywhere, so every header
// field is checked against the format and the actual file size before a byte of data is trusted.
// Any violation is an InputError naming the file; hostile input can never make us read out of
// bounds or allocate more than the file holds.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "framework/io/safetensors.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace stuckat {
namespace {

// Same bound as the reference implementation: larger headers are refused as absurd.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

using Json = nlohmann::json;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FileHandle = std::unique_ptr<std::FILE, FileCloser>;

template <typename... Args>
[[noreturn]] void reject(const std::string& path, fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format("safetensors file {} {}.", path, fmt::format(f, std::forward<Args>(args)...)));
}

// A JSON number that is a non-negative integer representable in int64 (so also in uint64).
bool json_to_count(const Json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
  } else if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    *out = static_cast<uint64_t>(v);
  } else {
    return false;
  }
  return *out <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

SafetensorsEntry parse_entry(const std::string& path, const std::string& name, const Json& info,
                             uint64_t data_bytes) {
  if (!info.is_object()) reject(path, "describes tensor '{}' with a JSON {} instead of an object", name, info.type_name());
  SafetensorsEntry e;
  e.name = name;

  const auto dtype_it = info.find("dtype");
  if (dtype_it == info.end() || !dtype_it->is_string())
    reject(path, "gives tensor '{}' no \"dtype\" string", name);
  const std::string dtype = dtype_it->get<std::string>();
  if (!dtype_from_name(dtype, &e.dtype))
    reject(path, "gives tensor '{}' dtype \"{}\", which stuckat does not read (expected F32, F16, BF16, I16, I32, I64 "
           "or U8)", name, dtype);

  const auto shape_it = info.find("shape");
  if (shape_it == info.end() || !shape_it->is_array())
    reject(path, "gives tensor '{}' no \"shape\" array", name);
  // Multiply in order and refuse any partial product past int64, like the reference reader:
  // a wrapped product could pass the size check below, and shape_numel() multiplies the same way.
  uint64_t numel = 1;
  bool overflow = false;
  for (const Json& d : *shape_it) {
    uint64_t n = 0;
    if (!json_to_count(d, &n))
      reject(path, "gives tensor '{}' shape {} whose dimensions are not all non-negative integers", name, shape_it->dump());
    e.shape.push_back(static_cast<int64_t>(n));
    overflow = overflow || __builtin_mul_overflow(numel, n, &numel) ||
               numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  }
  uint64_t bytes = 0;
  if (overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(e.dtype)), &bytes))
    reject(path, "gives tensor '{}' shape {} whose size overflows 64 bits", name, shape_it->dump());

  const auto offsets_it = info.find("data_offsets");
  if (offsets_it == info.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !json_to_count((*offsets_it)[0], &e.begin) || !json_to_count((*offsets_it)[1], &e.end))
    reject(path, "gives tensor '{}' no \"data_offsets\" pair of non-negative integers", name);
  if (e.begin > e.end)
    reject(path, "gives tensor '{}' data_offsets [{}, {}] that end before they begin", name, e.begin, e.end);
  if (e.end > data_bytes)
    reject(path, "gives tensor '{}' data_offsets [{}, {}] beyond its {}-byte data section", name, e.begin, e.end,
           data_bytes);
  if (e.end - e.begin != bytes)
    reject(path, "gives tensor '{}' ({} {}) {} bytes of data, expected {}", name, dtype, shape_str(e.shape),
           e.end - e.begin, bytes);
  return e;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const Json& meta) {
  std::map<std::string, std::string> out;
  if (meta.is_null()) return out;
  if (!meta.is_object()) reject(path, "has a \"__metadata__\" that is a JSON {} instead of an object", meta.type_name());
  for (const auto& [key, value] : meta.items()) {
    if (!value.is_string()) reject(path, "has metadata \"{}\" that is a JSON {} instead of a string", key, value.type_name());
    out[key] = value.get<std::string>();
  }
  return out;
}

// Opens the file and parses + validates the header; leaves the stream at the data section.
SafetensorsHeader read_header(const std::string& path, FileHandle& file) {
  file.reset(std::fopen(path.c_str(), "rb"));
  if (!file) throw InputError(fmt::format("cannot open safetensors file {}: {}.", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fileno(file.get()), &st) != 0 || !S_ISREG(st.st_mode)) reject(path, "is not a regular file");
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  if (file_bytes < 8) reject(path, "is {} bytes long, too short for the 8-byte header length", file_bytes);

  unsigned char length_bytes[8];
  if (std::fread(length_bytes, 1, 8, file.get()) != 8) reject(path, "could not be read ({})", std::strerror(errno));
  uint64_t header_bytes = 0;
  for (int i = 0; i < 8; ++i) header_bytes |= static_cast<uint64_t>(length_bytes[i]) << (8 * i);
  if (header_bytes > kMaxHeaderBytes)
    reject(path, "declares a {}-byte header, more than the {}-byte limit (not a safetensors file?)", header_bytes,
           kMaxHeaderBytes);
  if (header_bytes > file_bytes - 8)
    reject(path, "declares a {}-byte header but only {} bytes follow the header length", header_bytes, file_bytes - 8);

  std::string text(header_bytes, '\0');
  if (header_bytes > 0 && std::fread(text.data(), 1, header_bytes, file.get()) != header_bytes)
    reject(path, "ended while reading its header");
  Json header;
  try {
    header = Json::parse(text);
  } catch (const Json::exception& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " tag; keep the position and reason.
    std::string reason = e.what();
    const size_t tag_end = reason.find("] ");
    if (tag_end != std::string::npos) reason = reason.substr(tag_end + 2);
    reject(path, "has a header that is not valid JSON ({})", reason);
  }
  if (!header.is_object()) reject(path, "has a header that is a JSON {} instead of an object", header.type_name());

  SafetensorsHeader out;
  out.data_start = 8 + header_bytes;
  const uint64_t data_bytes = file_bytes - out.data_start;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__")
      out.metadata = parse_metadata(path, info);
    else
      out.entries.push_back(parse_entry(path, name, info, data_bytes));
  }

  // The data section must be covered exactly: tensors back to back from 0 to its end. Empty
  // tensors sort before a non-empty one at the same offset so they do not count as overlap.
  std::stable_sort(out.entries.begin(), out.entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const SafetensorsEntry& e : out.entries) {
    if (e.begin < covered)
      reject(path, "has tensors '{}' and '{}' whose data overlap (bytes {} to {})", previous->name, e.name, e.begin,
             covered);
    if (e.begin > covered)
      reject(path, "leaves bytes {} to {} of its data section unused before tensor '{}'", covered, e.begin, e.name);
    covered = e.end;
    previous = &e;
  }
  if (covered != data_bytes)
    reject(path, "has {} bytes after the end of its last tensor's data (data section is {} bytes, tensors cover {})",
           data_bytes - covered, data_bytes, covered);
  return out;
}

}  // namespace

SafetensorsHeader read_safetensors_header(const std::string& path) {
  FileHandle file;
  return read_header(path, file);
}

SafetensorsContent read_safetensors(const std::string& path) {
  FileHandle file;
  SafetensorsHeader header = read_header(path, file);
  SafetensorsContent out;
  out.metadata = std::move(header.metadata);
  out.tensors.reserve(header.entries.size());
  // Entries cover the data section in order, so one sequential pass reads every tensor.
  for (const SafetensorsEntry& e : header.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    const size_t n = static_cast<size_t>(e.end - e.begin);
    if (n > 0 && std::fread(t.raw_data(), 1, n, file.get()) != n)
      reject(path, "ended while reading tensor '{}' (was it changed while being read?)", e.name);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace stuckat
