// The caps on what a flag or a file can ask stuckat for, in one place. Each is checked before
// anything is allocated, expanded or started, and a request past it is refused in one sentence
// that names the flag or file and the cap. Work and memory otherwise follow the real content of
// a file (its bytes, its nonzeros), never a size its header claims.
#pragma once
#include <algorithm>
#include <cstdint>
#include <thread>

namespace stuckat::limits {

// --threads: at most this many threads per core of the machine (oversubscription past that only
// adds contention; tens of thousands of threads exhaust the process's stacks).
constexpr int kThreadsPerCore = 4;
inline int max_threads() {
  return kThreadsPerCore * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Values one list flag of a sweep (--bits, --stuck, --seeds, ...) may expand to.
constexpr int64_t kMaxListValues = 1'000'000;

// Points of one sweep grid (formats x (1 baseline + layers x bits x stuck x rates x seeds)).
constexpr int64_t kMaxGridPoints = 100'000'000;

// Rows or columns of a matrix read for crossbar mapping (--max-dim raises it): tile bands and
// row/column maps are sized by the dimensions, so a header declaring 1e9 x 1e9 for one nonzero
// would cost gigabytes.
constexpr int64_t kMaxMatrixSide = 10'000'000;

}  // namespace stuckat::limits
