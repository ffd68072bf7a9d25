// Errors: one exception hierarchy so tests can REQUIRE_THROWS_AS and the CLI can map
// bad user input to a single sentence and exit code 2.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace stuckat {

// Internal invariant broken or unsupported use of the API (a bug, not the user's fault).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad user input: a file, flag or name that is not what was expected. The message is one
// sentence naming the file/flag and what was expected; the CLI prints it and exits 2.
class InputError : public Error {
 public:
  using Error::Error;
};

// A CUDA, cuBLAS or cuSPARSE call failed.
class CudaError : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void throw_input_error(fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace stuckat

// Internal check: throws stuckat::Error with file:line and a fmt-built message.
#define STUCKAT_CHECK(cond, ...)                                                              \
  do {                                                                                        \
    if (!(cond))                                                                              \
      throw ::stuckat::Error(fmt::format("{}:{}: check '{}' failed: {}", __FILE__, __LINE__, \
                                         #cond, fmt::format(__VA_ARGS__)));                   \
  } while (0)
