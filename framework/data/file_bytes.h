// Whole-file reads that see through gzip: the IDX files ship gzip'd, users often gunzip them,
// and some mirrors keep the .gz name on a raw file, so the content (magic 1f 8b) decides.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stuckat {

// True when the file starts with the gzip magic bytes 1f 8b. Throws InputError if it cannot be opened.
bool is_gzip_file(const std::string& path);

// The file's bytes, decompressed when it is gzip'd. Throws InputError naming the file when it
// cannot be opened or its gzip stream is truncated or corrupt.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace stuckat
