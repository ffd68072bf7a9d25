// Host-to-device copies through a ring of pinned staging buffers (memory.h).
//
// Why: cudaMemcpyAsync from pageable memory may wait for the stream before it copies (CUDA's
// "API synchronization behavior": the driver stages pageable bytes itself and may synchronize to
// do so). The sweep's planning thread uploads a chunk's weight changes while the launching thread
// queues the previous chunk's passes; an upload that waits for the stream would make the planner
// wait for those passes. From pinned memory the copy is queued and the call returns at once.
//
// How: kSlots buffers of kSlotBytes carved from one pinned allocation, used in turn. A copy
// memcpy's its bytes (a slot's worth at a time) into the next slot, queues the DMA from it on
// stream 0 and records an event after it; before a slot is refilled, the host waits for its
// event (only when the device is more than kSlots copies behind). One mutex orders the whole
// thing: two threads' copies take slots in turn and queue in the order they took them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/memory.h"

namespace stuckat::cuda {

namespace {

constexpr int kSlots = 8;
constexpr size_t kSlotBytes = size_t(4) << 20;

struct Slot {
  char* host = nullptr;
  cudaEvent_t drained = nullptr;  // recorded after the slot's last DMA
  bool queued = false;            // the event was recorded
};

class StagingRing {
 public:
  // False when the ring could not be set up (pinned memory refused): the caller copies directly.
  bool ready() {
    std::call_once(once_, [this] { ok_ = set_up(); });
    return ok_;
  }

  void copy(void* dst, const void* src, size_t bytes, double* waited_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto* to = static_cast<char*>(dst);
    const auto* from = static_cast<const char*>(src);
    while (bytes > 0) {
      Slot& s = slots_[next_];
      next_ = (next_ + 1) % kSlots;
      if (s.queued) {
        const cudaError_t q = cudaEventQuery(s.drained);
        if (q == cudaErrorNotReady) {
          const auto t0 = std::chrono::steady_clock::now();
          CUDA_CHECK(cudaEventSynchronize(s.drained));
          *waited_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        } else {
          CUDA_CHECK(q);
        }
      }
      const size_t n = std::min(bytes, kSlotBytes);
      std::memcpy(s.host, from, n);
      CUDA_CHECK(cudaMemcpyAsync(to, s.host, n, cudaMemcpyHostToDevice, 0));
      CUDA_CHECK(cudaEventRecord(s.drained, 0));
      s.queued = true;
      to += n;
      from += n;
      bytes -= n;
    }
  }

 private:
  bool set_up() {
    void* block = nullptr;
    if (cudaHostAlloc(&block, kSlots * kSlotBytes, cudaHostAllocDefault) != cudaSuccess) {
      cudaGetLastError();  // not sticky; copies go direct from pageable memory instead
      return false;
    }
    for (int k = 0; k < kSlots; ++k) {
      slots_[k].host = static_cast<char*>(block) + k * kSlotBytes;
      CUDA_CHECK(cudaEventCreateWithFlags(&slots_[k].drained, cudaEventDisableTiming));
    }
    return true;  // never freed: the process's lifetime, and CUDA may be torn down before statics
  }

  std::once_flag once_;
  bool ok_ = false;
  std::mutex mutex_;
  Slot slots_[kSlots];
  int next_ = 0;
};

StagingRing& ring() {
  static StagingRing* r = new StagingRing();  // never destroyed (see set_up)
  return *r;
}

std::atomic<bool> g_staging{[] {
  const char* v = std::getenv("STUCKAT_PINNED_STAGING");
  return !(v && std::strcmp(v, "0") == 0);
}()};

thread_local double t_upload_ms = 0, t_upload_wait_ms = 0;
thread_local long long t_uploads = 0;

}  // namespace

void set_pinned_staging(bool on) { g_staging = on; }
bool pinned_staging() { return g_staging.load(); }

UploadStats upload_stats() { return {t_uploads, t_upload_ms, t_upload_wait_ms}; }

void copy_to_device(void* dst, const void* src, size_t bytes) {
  const auto t0 = std::chrono::steady_clock::now();
  if (g_staging.load() && ring().ready())
    ring().copy(dst, src, bytes, &t_upload_wait_ms);
  else
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, 0));
  ++t_uploads;
  t_upload_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace stuckat::cuda
