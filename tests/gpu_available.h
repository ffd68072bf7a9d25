// For [cuda] tests: whether this build has the CUDA backend and a GPU is present. When not, the
// test warns with the reason (no backend, no device, or the CUDA runtime's error) and should
// return, so it SKIPs rather than fails; with STUCKAT_REQUIRE_GPU=1 in the environment (the device
// check, bench/gpu/check.sh) a missing GPU fails the test instead, so a broken setup cannot pass.
#pragma once
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <string>

#include "base/device.h"

inline bool have_gpu(const char* what) {
  const std::string reason = stuckat::cuda_unavailable_reason();
  if (reason.empty()) return true;
  const char* require = std::getenv("STUCKAT_REQUIRE_GPU");
  if (require != nullptr && std::strcmp(require, "1") == 0) FAIL(reason << " (STUCKAT_REQUIRE_GPU=1): " << what);
  WARN(reason << ": " << what << " not checked");
  return false;
}
