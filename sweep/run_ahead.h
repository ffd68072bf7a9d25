// RunAhead: step(k) for k = first, first + 1, ..., last - 1, in order, on a thread of its own,
// while the caller consumes the results in the same order: ready(k) returns once step(k) is done
// (and rethrows what step(k) threw). The sweep's device path plans chunk k + 1 on it while it
// launches chunk k (sweep_copy_path.h). step(k) must touch only what the caller leaves alone
// until ready(k); the destructor stops after the step in progress and joins.
// GPU work issued by a step (an upload, say) goes to the same stream as the caller's and is
// issued before ready(k) returns, so it precedes whatever the caller queues after ready(k).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "base/error.h"
#include "framework/parallel.h"

namespace stuckat::sweep {

class RunAhead {
 public:
  RunAhead(size_t first, size_t last, std::function<void(size_t)> step)
      : done_(first), last_(last), failed_at_(last), step_(std::move(step)) {
    const int threads = num_threads();
    worker_ = std::thread([this, first, last, threads] {
      set_num_threads(threads);  // the OpenMP setting is per thread: the step gets the caller's
      for (size_t k = first; k < last && !stop_; ++k) {
        std::exception_ptr error;
        try {
          step_(k);
        } catch (...) {
          error = std::current_exception();
        }
        const std::lock_guard<std::mutex> lock(mutex_);
        if (error) {
          error_ = error;
          failed_at_ = k;
        } else {
          done_ = k + 1;
        }
        cv_.notify_all();
        if (error) return;
      }
    });
  }
  ~RunAhead() {
    stop_ = true;
    worker_.join();
  }
  RunAhead(const RunAhead&) = delete;
  RunAhead& operator=(const RunAhead&) = delete;

  // Waits for step(k); rethrows step(k)'s exception, or that of the step before it that failed.
  void ready(size_t k) {
    STUCKAT_CHECK(k < last_, "RunAhead::ready({}) past its last step {}", k, last_);
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return done_ > k || failed_at_ <= k; });
    if (done_ <= k) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  size_t done_;       // step(k) finished for every k < done_
  const size_t last_;
  size_t failed_at_;  // the step that threw (last if none)
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
  std::function<void(size_t)> step_;
  std::thread worker_;  // last: starts once the members above exist
};

}  // namespace stuckat::sweep
