// The processes of one job. Started by mpirun or srun (Open MPI), every process is one rank of
// MPI_COMM_WORLD; started any other way, the world is this one process and every call below is
// the single-process case (no MPI call is made), so a build without MPI behaves as before.
//
// Everything here is called from one thread at a time: the job's main thread, or on rank 0 the
// work queue's coordinator thread while the main thread works (cluster/work_queue.h).
#pragma once
#include <cstdint>
#include <string>

namespace stuckat::cluster {

// Whether an MPI launcher started this process (Open MPI's mpirun: OMPI_COMM_WORLD_SIZE; srun
// --mpi=pmix or pmi2: PMIX_RANK / PMI_SIZE), with the variable that says so in `how`; `several`:
// whether it started more than one process (as far as the environment tells).
bool launched_by_mpi(std::string* how, bool* several);

// Starts the world: MPI_Init_thread when launched by mpirun / srun and this build has MPI. Under a
// launcher without MPI in the build, throws InputError (each process would otherwise run the whole
// job and write the same files). Call once, from main, before any other call here.
void start_world(int* argc, char*** argv);
// Ends it (MPI_Finalize); safe when start_world was not called or made no MPI call.
void stop_world();
// Ends every process of the job at once with `code` (MPI_Abort), or exits this one.
[[noreturn]] void abort_world(int code);

int world_rank();        // 0 in a single process
int world_size();        // 1 in a single process
int world_local_rank();  // rank among the processes on this node (OMPI_COMM_WORLD_LOCAL_RANK / SLURM_LOCALID)
bool world_is_distributed();  // world_size() > 1
std::string world_library();  // "Open MPI 4.1.4 ..." or "none (one process)"

// While one lives, this thread sees a one-process world (rank 0 of 1): a job run inside a
// distributed grid (each rank runs whole runs of its own) must not split itself over the ranks.
class ScopedOneProcess {
 public:
  ScopedOneProcess();
  ~ScopedOneProcess();
  ScopedOneProcess(const ScopedOneProcess&) = delete;
  ScopedOneProcess& operator=(const ScopedOneProcess&) = delete;
};

// Collectives (every rank calls them in the same order).
struct Agreement {
  bool all_ok = true;    // ok on every rank
  bool root_ok = true;   // ok on rank 0
};
Agreement world_agree(bool ok);
void world_sum(double* values, int64_t n);  // element-wise sum over ranks, in place
void world_sum(float* values, int64_t n);
// The same 64-bit value on every rank?
bool world_all_equal(uint64_t value);
// Whether the MPI library takes GPU memory in its calls (Open MPI's MPIX_Query_cuda_support).
bool world_cuda_aware();

// Point to point, for the work queue: byte strings with a small tag.
void world_send(int dest, int tag, const std::string& bytes);
// A waiting message from any rank with any tag: true and its source / tag / bytes, or false.
bool world_try_receive(int* source, int* tag, std::string* bytes);
// Waits (polling, sleeping between polls so an oversubscribed node keeps its cores) for a message
// from `source`; returns its tag and fills bytes.
int world_wait_receive(int source, std::string* bytes);

}  // namespace stuckat::cluster
