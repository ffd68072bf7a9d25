// Result files appear whole or not at all: the bytes go to PATH.tmp, which is then renamed over
// PATH, so a killed process leaves the previous file (or none) and at most a .tmp beside it.
#pragma once
#include <string>

namespace stuckat {

// PATH.tmp, where a file is written before it replaces PATH.
std::string temporary_path(const std::string& path);

// Writes `bytes` to PATH.tmp and renames it over PATH; throws InputError naming the file (after
// `what`, e.g. the flag that gave it) and the system's reason when either step fails.
void write_file_atomically(const std::string& path, const std::string& bytes, const std::string& what = "");

// Renames PATH.tmp, written by the caller, over PATH; throws InputError naming the file.
void replace_with_temporary(const std::string& path);

}  // namespace stuckat
