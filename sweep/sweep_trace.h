// STUCKAT_SWEEP_TRACE=1: where the model-copy sweep's host time goes (sweep_copy_path.cpp), per
// pipeline step, to stderr. No synchronisation is added: a read-back's time is mostly the wait
// for the device, the other steps are host work.
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "kernels/cuda/memory.h"

namespace stuckat::sweep {

// Device allocations so far (device_malloc: a size the caching allocator had not seen), and the
// host ms they took; zero without CUDA.
struct MallocStats {
  long long count = 0;
  double ms = 0;
  MallocStats operator-(const MallocStats& o) const { return {count - o.count, ms - o.ms}; }
};
inline MallocStats malloc_stats() {
  if constexpr (kCudaBackend)
    return {cuda::device_malloc_count(), cuda::device_malloc_ms()};
  else
    return {};
}

// The calling thread's uploads so far (cuda::upload_stats; zero without CUDA): a plan's show
// whether its copies waited for the device.
using UploadStats = cuda::UploadStats;
inline UploadStats upload_stats() {
  if constexpr (kCudaBackend)
    return cuda::upload_stats();
  else
    return {};
}

// Host ms per step, in total and per chunk (a Scope adds its lifetime); the totals are printed when
// it is destroyed. Off (nothing measured) unless the environment sets STUCKAT_SWEEP_TRACE.
class StepTimes {
 public:
  // kPlan runs on a planning thread; kPlanWait is the launching thread's wait for it.
  enum Step { kDraw, kReadBack, kCleanPass, kPlan, kPlanWait, kLaunch, kCollect, kEmit, kSteps };
  StepTimes() : on_(std::getenv("STUCKAT_SWEEP_TRACE") != nullptr) {}
  ~StepTimes() {
    if (!on_) return;
    static const char* names[kSteps] = {"draw",      "read back", "clean pass", "plan",
                                        "plan wait", "launch",    "collect",    "emit"};
    std::fprintf(stderr, "sweep trace (host ms):");
    for (int k = 0; k < kSteps; ++k) std::fprintf(stderr, " %s %.3f (%d)", names[k], ms_[k], calls_[k]);
    std::fprintf(stderr, "\n");
  }
  struct Scope {
    StepTimes* t;
    Step step;
    double* chunk_ms;  // the chunk's own entry, or null
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    ~Scope() {
      if (!t->on_) return;
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      t->ms_[step] += ms;
      ++t->calls_[step];
      if (chunk_ms) chunk_ms[step] += ms;
    }
  };
  Scope time(Step step, double* chunk_ms = nullptr) { return Scope{this, step, chunk_ms}; }
  bool on() const { return on_; }

 private:
  bool on_;
  double ms_[kSteps] = {};
  int calls_[kSteps] = {};
};

}  // namespace stuckat::sweep
