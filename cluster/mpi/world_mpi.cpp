// The world on Open MPI: MPI_COMM_WORLD, initialised with MPI_THREAD_SERIALIZED (rank 0's
// coordinator thread makes the calls while its main thread works, never both at once).
#include <mpi.h>
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>  // MPIX_Query_cuda_support (Open MPI)
#endif

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "base/error.h"
#include "cluster/world.h"

namespace stuckat::cluster {
namespace {
bool g_started = false;  // MPI_Init ran (and MPI_Finalize did not yet)
int g_rank = 0, g_size = 1;

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(fmt::format("{} failed on rank {}: {}", what, g_rank, std::string(text, static_cast<size_t>(len))));
}
}  // namespace

void start_world(int* argc, char*** argv) {
  std::string how;
  bool several = false;
  if (g_started || !launched_by_mpi(&how, &several)) return;
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  g_started = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  if (provided < MPI_THREAD_SERIALIZED && g_size > 1)
    throw InputError(fmt::format("the MPI library gives thread level {} where stuckat needs MPI_THREAD_SERIALIZED ({})",
                                 provided, static_cast<int>(MPI_THREAD_SERIALIZED)));
}

void stop_world() {
  if (!g_started) return;
  g_started = false;
  MPI_Finalize();
}

void abort_world(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (g_started && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

extern thread_local int g_one_process_scopes;  // world_env.cpp

int world_rank() { return g_one_process_scopes > 0 ? 0 : g_rank; }
int world_size() { return g_one_process_scopes > 0 ? 1 : g_size; }
bool world_is_distributed() { return world_size() > 1; }

std::string world_library() {
  if (!g_started) return "none (one process)";
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string s(text, static_cast<size_t>(len));
  const size_t cut = s.find_first_of(",\n");
  return cut == std::string::npos ? s : s.substr(0, cut);
}

Agreement world_agree(bool ok) {
  if (world_size() == 1) return {ok, ok};
  int mine[2] = {ok ? 1 : 0, g_rank == 0 ? (ok ? 1 : 0) : 1};
  int all[2] = {0, 0};
  check(MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
  return {all[0] == 1, all[1] == 1};
}

namespace {
template <typename T> void sum_in_place(T* values, int64_t n, MPI_Datatype type) {
  if (world_size() == 1) return;
  for (int64_t done = 0; done < n;) {
    const int count = static_cast<int>(std::min<int64_t>(n - done, INT_MAX / 2));
    check(MPI_Allreduce(MPI_IN_PLACE, values + done, count, type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    done += count;
  }
}
}  // namespace

void world_sum(double* values, int64_t n) { sum_in_place(values, n, MPI_DOUBLE); }
void world_sum(float* values, int64_t n) { sum_in_place(values, n, MPI_FLOAT); }

bool world_all_equal(uint64_t value) {
  if (world_size() == 1) return true;
  unsigned long long v[2] = {value, ~value}, r[2] = {0, 0};
  check(MPI_Allreduce(v, r, 2, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  return r[0] == value && r[1] == ~value;  // max(v) == v and max(~v) == ~v: every rank had v
}

bool world_cuda_aware() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  return g_started && MPIX_Query_cuda_support() == 1;
#else
  return false;
#endif
}

void world_send(int dest, int tag, const std::string& bytes) {
  STUCKAT_CHECK(bytes.size() < size_t(INT_MAX), "message of {} bytes is too long", bytes.size());
  check(MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD), "MPI_Send");
}

namespace {
void receive_probed(const MPI_Status& st, std::string* bytes) {
  int count = 0;
  MPI_Get_count(&st, MPI_BYTE, &count);
  bytes->assign(static_cast<size_t>(count), '\0');
  check(MPI_Recv(bytes->data(), count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
        "MPI_Recv");
}
}  // namespace

bool world_try_receive(int* source, int* tag, std::string* bytes) {
  int flag = 0;
  MPI_Status st;
  check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st), "MPI_Iprobe");
  if (!flag) return false;
  *source = st.MPI_SOURCE;
  *tag = st.MPI_TAG;
  receive_probed(st, bytes);
  return true;
}

int world_wait_receive(int source, std::string* bytes) {
  // Open MPI's blocking receive spins a core; a worker waits here for its next unit, so poll and
  // sleep (from 50 us up to 2 ms) instead.
  auto pause = std::chrono::microseconds(50);
  while (true) {
    int flag = 0;
    MPI_Status st;
    check(MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st), "MPI_Iprobe");
    if (flag) {
      receive_probed(st, bytes);
      return st.MPI_TAG;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
}

}  // namespace stuckat::cluster
