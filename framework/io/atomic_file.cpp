// Writing a file to a temporary name, then renaming it (atomic_file.h).
#include "framework/io/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "base/error.h"

namespace stuckat {

std::string temporary_path(const std::string& path) { return path + ".tmp"; }

void write_file_atomically(const std::string& path, const std::string& bytes, const std::string& what) {
  const std::string tmp = temporary_path(path);
  const std::string name = what.empty() ? path : what + " " + path;
  {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(tmp.c_str(), "wb"), &std::fclose);
    if (!out) throw_input_error("cannot write {} (as {}): {}", name, tmp, std::strerror(errno));
    if (std::fwrite(bytes.data(), 1, bytes.size(), out.get()) != bytes.size() || std::fflush(out.get()) != 0)
      throw_input_error("cannot write {} (as {}): {}", name, tmp, std::strerror(errno));
  }
  replace_with_temporary(path);
}

void replace_with_temporary(const std::string& path) {
  const std::string tmp = temporary_path(path);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw_input_error("cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
}

}  // namespace stuckat
