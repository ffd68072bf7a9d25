// Shared by the fuzz targets: the fuzzer's bytes as a file (the readers take paths, and the path
// through the file system is the one users hit), and the rule every target checks: a reader
// either returns or throws stuckat::InputError (one sentence for the user). Any other exception,
// a crash, a leak, undefined behaviour (ASan + UBSan) or a hang is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "base/error.h"

namespace stuckat::fuzz {

// Writes data to a file of this process named `name` (the suffix may matter to the reader, e.g.
// .mtx) in /dev/shm (memory) or /tmp, and returns its path.
inline std::string input_file(const uint8_t* data, size_t size, const std::string& name) {
  static const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  const std::string path = dir + "/stuckat_fuzz_" + std::to_string(getpid()) + "_" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();  // the harness itself is broken
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}

// Runs `read`; an InputError is the reader refusing the input, which is the right answer.
template <typename Read>
void refuse_or_read(Read&& read) {
  try {
    read();
  } catch (const InputError&) {
  }
}

}  // namespace stuckat::fuzz
