// Reads a raw or gzip'd file into memory; gzip is recognised by its magic bytes, not its name.
#include "framework/data/file_bytes.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "base/error.h"

namespace stuckat {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr open_or_throw(const std::string& path) {
  std::error_code ec;
  // fopen succeeds on a directory on Linux; the read would then fail with a vaguer message.
  if (std::filesystem::is_directory(path, ec)) throw_input_error("{} is a directory, expected a file", path);
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) throw_input_error("cannot open {}: {}", path, std::strerror(errno));
  return f;
}

// Size of an open file in bytes (seeks back to the start).
uint64_t file_size(std::FILE* f, const std::string& path) {
  if (std::fseek(f, 0, SEEK_END) != 0) throw_input_error("cannot seek in {}: {}", path, std::strerror(errno));
  long size = std::ftell(f);
  if (size < 0) throw_input_error("cannot tell the size of {}: {}", path, std::strerror(errno));
  std::rewind(f);
  return static_cast<uint64_t>(size);
}

// The gzip trailer's ISIZE (uncompressed size mod 2^32): only a capacity hint, since a
// concatenated or lying stream can make it wrong.
uint64_t gzip_size_hint(const std::string& path) {
  FilePtr f = open_or_throw(path);
  uint64_t size = file_size(f.get(), path);
  if (size < 18) return 0;  // smaller than an empty gzip member
  unsigned char tail[4];
  if (std::fseek(f.get(), -4, SEEK_END) != 0 || std::fread(tail, 1, 4, f.get()) != 4) return 0;
  uint64_t isize = static_cast<uint64_t>(tail[0]) | static_cast<uint64_t>(tail[1]) << 8 |
                  static_cast<uint64_t>(tail[2]) << 16 | static_cast<uint64_t>(tail[3]) << 24;
  // Deflate expands at most ~1032x, so a larger claim is a corrupt trailer: do not reserve it.
  return std::min(isize, size * 1032);
}

std::vector<uint8_t> read_gzip(const std::string& path) {
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(gzip_size_hint(path)));
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw_input_error("cannot open {}: {}", path, std::strerror(errno));
  gzbuffer(gz, 1u << 18);  // fewer, larger reads of the compressed file
  const size_t chunk = size_t{1} << 22;
  for (;;) {
    size_t have = out.size();
    out.resize(have + chunk);
    int got = gzread(gz, out.data() + have, static_cast<unsigned>(chunk));
    if (got < 0) {
      int errnum = 0;
      std::string message = gzerror(gz, &errnum);
      gzclose(gz);
      throw_input_error("{} is not a valid gzip file ({})", path, message);
    }
    out.resize(have + static_cast<size_t>(got));
    if (got == 0) break;
  }
  // gzread returns what it could decode and reports a cut-off stream only through gzerror.
  int errnum = Z_OK;
  std::string message = gzerror(gz, &errnum);
  gzclose(gz);
  if (errnum != Z_OK)
    throw_input_error("{} is a truncated or corrupt gzip file ({} after {} decompressed bytes)", path, message,
                      out.size());
  out.shrink_to_fit();
  return out;
}

}  // namespace

bool is_gzip_file(const std::string& path) {
  FilePtr f = open_or_throw(path);
  unsigned char magic[2] = {0, 0};
  size_t got = std::fread(magic, 1, 2, f.get());
  return got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  if (is_gzip_file(path)) return read_gzip(path);
  FilePtr f = open_or_throw(path);
  uint64_t size = file_size(f.get(), path);
  std::vector<uint8_t> out(static_cast<size_t>(size));
  if (size > 0 && std::fread(out.data(), 1, out.size(), f.get()) != out.size())
    throw_input_error("cannot read the {} bytes of {}", size, path);
  return out;
}

}  // namespace stuckat
