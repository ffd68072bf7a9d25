// The opt-in region timer (profile.h).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>
#include <algorithm>

#include <cuda_runtime.h>

#include "kernels/cuda/profile.h"

namespace stuckat::cuda {
namespace {

struct Totals {
  double seconds = 0;
  long long calls = 0;
};

std::mutex g_mutex;
std::map<std::string, Totals>& table() {
  static auto* t = new std::map<std::string, Totals>();  // never destroyed: read at exit
  return *t;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void print_table() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<std::pair<std::string, Totals>> rows(table().begin(), table().end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  std::fprintf(stderr, "STUCKAT_CUDA_PROFILE (inclusive, synchronized):\n%-36s %10s %10s %12s\n", "region", "total ms",
               "calls", "ms per call");
  for (const auto& [name, t] : rows)
    std::fprintf(stderr, "%-36s %10.2f %10lld %12.4f\n", name.c_str(), 1e3 * t.seconds, t.calls,
                 1e3 * t.seconds / static_cast<double>(std::max(1LL, t.calls)));
}

}  // namespace

bool profiling() {
  static const bool on = [] {
    const char* v = std::getenv("STUCKAT_CUDA_PROFILE");
    const bool enabled = v != nullptr && std::strcmp(v, "0") != 0 && v[0] != '\0';
    if (enabled) std::atexit(print_table);
    return enabled;
  }();
  return on;
}

ProfileScope::ProfileScope(const char* name) {
  if (!profiling()) return;
  name_ = name;
  cudaDeviceSynchronize();
  start_ = now();
}

ProfileScope::~ProfileScope() {
  if (name_ == nullptr) return;
  cudaDeviceSynchronize();
  const double elapsed = now() - start_;
  std::lock_guard<std::mutex> lock(g_mutex);
  Totals& t = table()[name_];
  t.seconds += elapsed;
  ++t.calls;
}

}  // namespace stuckat::cuda
