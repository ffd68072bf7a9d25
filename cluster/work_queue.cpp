// The work queue (cluster/work_queue.h): rank 0's coordinator thread and every rank's work loop.
#include "cluster/work_queue.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "base/error.h"
#include "cluster/world.h"

namespace stuckat::cluster {
namespace {

enum Tag : int { kAsk = 1, kUnitTag = 2, kStop = 3, kFailedInput = 4, kFailedInternal = 5 };

struct Failure {
  std::string message;
  bool input = false;  // an InputError
  int rank = 0;
};

[[noreturn]] void rethrow(const Failure& f) {
  const std::string text = world_is_distributed() ? fmt::format("rank {}: {}", f.rank, f.message) : f.message;
  if (f.input) throw InputError(text);
  throw Error(text);
}

// Runs one unit, turning what it throws into a Failure.
std::optional<Failure> run_one(const WorkFunction& work, const std::string& unit, std::string* result) {
  try {
    *result = work(unit);
    return std::nullopt;
  } catch (const InputError& e) {
    return Failure{e.what(), true, world_rank()};
  } catch (const std::exception& e) {
    return Failure{e.what(), false, world_rank()};
  }
}

// One process: units run in order on this thread.
void run_alone(WorkCoordinator& c, const WorkFunction& work) {
  std::string unit, result;
  while (true) {
    const NextUnit kind = c.next(&unit);
    STUCKAT_CHECK(kind != NextUnit::kLater, "the work coordinator waits for units when none is running");
    if (kind == NextUnit::kFinished) return;
    if (auto failure = run_one(work, unit, &result)) rethrow(*failure);
    c.finished(unit, result, 0);
  }
}

// Rank 0's main thread and its coordinator thread meet here.
struct LocalSlot {
  std::mutex m;
  std::condition_variable cv;
  std::optional<std::string> unit;  // handed to the main thread
  bool stop = false;
  bool has_result = false;  // the main thread finished its unit
  std::string result;
  std::optional<Failure> failure;
};

class Coordinator {
 public:
  Coordinator(WorkCoordinator& c, LocalSlot& local) : c_(c), local_(local) {}

  void run() {
    const int size = world_size();
    waiting_.push_back(0);  // rank 0's main thread starts idle
    int stopped = 0;        // ranks told to stop (or that stopped after a failure)
    auto pause = std::chrono::microseconds(50);
    while (stopped < size) {
      const auto busy_from = std::chrono::steady_clock::now();
      const int64_t units_before = units_;
      bool progress = false;
      int source = 0, tag = 0;
      std::string bytes;
      while (world_try_receive(&source, &tag, &bytes)) {
        progress = true;
        if (tag == kAsk) {
          take_result(source, bytes);
          waiting_.push_back(source);
        } else if (tag == kFailedInput || tag == kFailedInternal) {
          assigned_.erase(source);
          fail(Failure{bytes, tag == kFailedInput, source});
          ++stopped;
        }
      }
      {
        std::unique_lock<std::mutex> lock(local_.m);
        if (local_.has_result) {
          local_.has_result = false;
          const std::string result = std::move(local_.result);
          lock.unlock();
          take_result(0, result);
          waiting_.push_back(0);
          progress = true;
        } else if (local_.failure) {
          Failure f = *local_.failure;
          local_.failure.reset();
          lock.unlock();
          assigned_.erase(0);
          fail(f);
          ++stopped;
          progress = true;
        }
      }
      stopped += hand_out();
      if (progress || units_ != units_before)
        busy_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - busy_from).count();
      if (progress) {
        pause = std::chrono::microseconds(50);
      } else {
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(1000));
      }
    }
  }

  const std::optional<Failure>& failure() const { return failure_; }
  int64_t units() const { return units_; }
  double busy_seconds() const { return busy_seconds_; }  // handling messages, results and hand-outs

 private:
  void fail(const Failure& f) {
    if (!failure_) failure_ = f;
  }

  void take_result(int rank, const std::string& result) {
    const auto it = assigned_.find(rank);
    if (it == assigned_.end()) return;  // a rank's first request carries no result
    const std::string unit = std::move(it->second);
    assigned_.erase(it);
    if (failure_) return;  // after a failure nothing more is recorded
    try {
      c_.finished(unit, result, rank);
    } catch (const InputError& e) {
      fail(Failure{e.what(), true, 0});
    } catch (const std::exception& e) {
      fail(Failure{e.what(), false, 0});
    }
  }

  // Gives units to the waiting ranks, or stops them; returns how many were stopped.
  int hand_out() {
    int stopped = 0;
    while (!waiting_.empty()) {
      std::string unit;
      NextUnit kind = NextUnit::kFinished;
      if (!failure_) {
        try {
          kind = c_.next(&unit);
        } catch (const std::exception& e) {
          fail(Failure{e.what(), dynamic_cast<const InputError*>(&e) != nullptr, 0});
        }
      }
      if (kind == NextUnit::kLater) {
        STUCKAT_CHECK(!assigned_.empty(), "the work coordinator waits for units when none is running");
        break;
      }
      const int rank = waiting_.front();
      waiting_.pop_front();
      if (kind == NextUnit::kUnit) {
        ++units_;
        assigned_[rank] = unit;
        give(rank, &unit);
      } else {
        give(rank, nullptr);
        ++stopped;
      }
    }
    return stopped;
  }

  void give(int rank, const std::string* unit) {
    if (rank != 0) {
      world_send(rank, unit ? kUnitTag : kStop, unit ? *unit : std::string());
      return;
    }
    {
      std::lock_guard<std::mutex> lock(local_.m);
      if (unit) {
        local_.unit = *unit;
      } else {
        local_.stop = true;
      }
    }
    local_.cv.notify_one();
  }

  WorkCoordinator& c_;
  LocalSlot& local_;
  std::deque<int> waiting_;
  std::map<int, std::string> assigned_;
  std::optional<Failure> failure_;
  int64_t units_ = 0;
  double busy_seconds_ = 0;
};

// Rank 0 of several: the coordinator on a thread, units on this one.
void run_root(WorkCoordinator& c, const WorkFunction& work) {
  LocalSlot local;
  Coordinator coordinator(c, local);
  std::exception_ptr coordinator_error;
  std::thread thread([&] {
    try {
      coordinator.run();
    } catch (...) {
      coordinator_error = std::current_exception();
      std::lock_guard<std::mutex> lock(local.m);
      local.stop = true;
      local.cv.notify_one();
    }
  });
  while (true) {
    std::string unit;
    {
      std::unique_lock<std::mutex> lock(local.m);
      local.cv.wait(lock, [&] { return local.unit.has_value() || local.stop; });
      if (!local.unit) break;
      unit = std::move(*local.unit);
      local.unit.reset();
    }
    std::string result;
    std::optional<Failure> failure = run_one(work, unit, &result);
    std::lock_guard<std::mutex> lock(local.m);
    if (failure) {
      local.failure = std::move(failure);
      break;
    }
    local.result = std::move(result);
    local.has_result = true;
  }
  thread.join();
  // STUCKAT_QUEUE_STATS=1: what coordinating cost rank 0 (bench/mpi_sweep.sh reads it).
  if (const char* stats = std::getenv("STUCKAT_QUEUE_STATS"); stats && std::string(stats) == "1")
    std::fprintf(stderr, "work queue: %lld units over %d ranks, coordinator busy %.6f s (%.1f us per unit)\n",
                 static_cast<long long>(coordinator.units()), world_size(), coordinator.busy_seconds(),
                 coordinator.units() ? 1e6 * coordinator.busy_seconds() / coordinator.units() : 0.0);
  if (coordinator_error) {
    // MPI itself failed on the coordinator: the other ranks may be waiting for it.
    try {
      std::rethrow_exception(coordinator_error);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "stuckat: rank 0: %s\n", e.what());
    }
    abort_world(1);
  }
  if (coordinator.failure()) rethrow(*coordinator.failure());
}

void run_worker(const WorkFunction& work) {
  std::string result, unit;
  world_send(0, kAsk, std::string());
  while (true) {
    const int tag = world_wait_receive(0, &unit);
    if (tag == kStop) return;
    STUCKAT_CHECK(tag == kUnitTag, "rank {}: unexpected message tag {} from rank 0", world_rank(), tag);
    if (std::optional<Failure> failure = run_one(work, unit, &result)) {
      world_send(0, failure->input ? kFailedInput : kFailedInternal, failure->message);
      throw RankFailed{failure->input ? 2 : 1};
    }
    world_send(0, kAsk, result);
  }
}

// The termination message, preformatted for the signal handler (which may only write()).
char g_termination_text[4096];
size_t g_termination_len = 0;

void on_term(int) {
  if (g_termination_len > 0) {
    ssize_t ignored = write(STDERR_FILENO, g_termination_text, g_termination_len);
    (void)ignored;
  }
  _exit(143);
}

}  // namespace

void run_work_queue(WorkCoordinator* coordinator, const WorkFunction& work) {
  if (world_rank() == 0) {
    STUCKAT_CHECK(coordinator != nullptr, "rank 0 runs the work queue without a coordinator");
    if (world_size() == 1) {
      run_alone(*coordinator, work);
    } else {
      run_root(*coordinator, work);
    }
  } else {
    run_worker(work);
  }
}

void setup_on_every_rank(const std::function<void()>& setup) {
  if (!world_is_distributed()) {
    setup();
    return;
  }
  std::exception_ptr error;
  try {
    setup();
  } catch (...) {
    error = std::current_exception();
  }
  const Agreement a = world_agree(error == nullptr);
  if (a.all_ok) return;
  if (error && (world_rank() == 0 || a.root_ok)) std::rethrow_exception(error);
  throw RankFailed{2};
}

void say_on_termination(const std::string& text) {
  const std::string line = text + "\n";
  g_termination_len = std::min(line.size(), sizeof(g_termination_text));
  std::memcpy(g_termination_text, line.data(), g_termination_len);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace stuckat::cluster
