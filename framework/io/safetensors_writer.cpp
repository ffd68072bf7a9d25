// Writing safetensors files: header JSON padded to 8 bytes, then every tensor's bytes back to back
// in the order given. The file appears atomically (write path.tmp, then rename) so an interrupted
// save never leaves a truncated checkpoint under the real name.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "framework/io/safetensors.h"

// The format is little-endian; tensor bytes are written as they lie in memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace stuckat {
namespace {

[[noreturn]] void throw_write_error(const std::string& path, const char* step, int err) {
  throw Error(fmt::format("could not write safetensors file {} ({} failed: {})", path, step, std::strerror(err)));
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// The header text padded with spaces so that the data section starts at a multiple of 8 bytes
// (the reference implementation does the same; readers may then map tensors aligned).
std::string header_text(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& kv : metadata) meta[kv.first] = kv.second;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    STUCKAT_CHECK(t.defined(), "tensor '{}' is undefined", name);
    STUCKAT_CHECK(name != "__metadata__", "'__metadata__' is reserved and cannot name a tensor");
    STUCKAT_CHECK(seen.insert(name).second, "tensor name '{}' appears twice", name);
    const uint64_t end = offset + t.nbytes();
    header[name] = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // a name or metadata value that is not UTF-8
    throw Error(fmt::format("cannot encode safetensors header: {}", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  NamedTensors host;
  host.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    STUCKAT_CHECK(t.defined(), "tensor '{}' is undefined", name);
    host.emplace_back(name, t.to(Device::CPU).contiguous());
  }
  const std::string header = header_text(host, metadata);

  const std::string tmp = path + ".tmp";
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(tmp.c_str(), "wb"));
  if (!file) throw_write_error(path, fmt::format("opening {}", tmp).c_str(), errno);
  auto fail = [&](const char* step) {
    const int err = errno;
    file.reset();
    std::remove(tmp.c_str());
    throw_write_error(path, step, err);
  };

  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(static_cast<uint64_t>(header.size()) >> (8 * i));
  if (std::fwrite(length, 1, 8, file.get()) != 8) fail("writing the header length");
  if (std::fwrite(header.data(), 1, header.size(), file.get()) != header.size()) fail("writing the header");
  for (const auto& [name, t] : host) {
    const size_t n = t.nbytes();
    if (n > 0 && std::fwrite(t.raw_data(), 1, n, file.get()) != n) fail("writing tensor data");
  }
  if (std::fflush(file.get()) != 0) fail("flushing");
  // fclose reports errors the kernel only finds when the last buffer goes out (e.g. disk full).
  if (std::fclose(file.release()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw_write_error(path, "closing", err);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw_write_error(path, fmt::format("renaming {} to it", tmp).c_str(), err);
  }
}

}  // namespace stuckat
