// For [cuda] tests: whether this build has the CUDA backend and a GPU is present; when not, the
// test warns (naming what it did not check) and should return, so it SKIPs rather than fails.
#pragma once
#include <catch2/catch.hpp>

#include "base/device.h"

inline bool have_gpu(const char* what) {
#ifndef STUCKAT_WITH_CUDA
  WARN("built without CUDA: " << what << " not checked");
  return false;
#else
  if (!stuckat::cuda_available()) {
    WARN("no GPU: " << what << " not checked");
    return false;
  }
  return true;
#endif
}
