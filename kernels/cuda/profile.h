// Opt-in timing of GPU work by named region, for finding where a step's time goes on a device
// without a profiler installed. Off unless the environment sets STUCKAT_CUDA_PROFILE=1; then each
// region synchronizes the device on entry and exit (so it measures the GPU time of the work
// inside, plus launch gaps) and a table of regions, sorted by total time, goes to stderr at exit.
// Regions nest; each reports its inclusive time. Synchronizing slows the run: use it to compare
// regions, never to report throughput. Host code includes this header; it needs no CUDA headers.
#pragma once

#ifdef STUCKAT_WITH_CUDA
namespace stuckat::cuda {

bool profiling();

class ProfileScope {
 public:
  explicit ProfileScope(const char* name);
  ~ProfileScope();
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  const char* name_ = nullptr;  // null when profiling is off
  double start_ = 0;
};

}  // namespace stuckat::cuda

#define STUCKAT_PROFILE_CAT2(a, b) a##b
#define STUCKAT_PROFILE_CAT(a, b) STUCKAT_PROFILE_CAT2(a, b)
#define STUCKAT_GPU_PROFILE(name) ::stuckat::cuda::ProfileScope STUCKAT_PROFILE_CAT(profile_scope_, __LINE__)(name)
#else
namespace stuckat::cuda {
inline bool profiling() { return false; }
// Without CUDA a region costs nothing (for regions held in a std::optional, opened and closed by hand).
class ProfileScope {
 public:
  explicit ProfileScope(const char*) {}
};
}  // namespace stuckat::cuda
#define STUCKAT_GPU_PROFILE(name) ((void)0)
#endif
