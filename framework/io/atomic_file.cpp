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
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), out.get()) == bytes.size() &&
                         std::fflush(out.get()) == 0;
    const int err = errno;
    if (std::fclose(out.release()) != 0 || !written) {  // nothing half-written stays behind
      std::remove(tmp.c_str());
      throw_input_error("cannot write {} (as {}): {}", name, tmp, std::strerror(written ? errno : err));
    }
  }
  replace_with_temporary(path);
}

void replace_with_temporary(const std::string& path) {
  const std::string tmp = temporary_path(path);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());  // e.g. the path is a directory: the temporary must not stay behind
    throw_input_error("cannot rename {} to {}: {}", tmp, path, std::strerror(err));
  }
}

}  // namespace stuckat
