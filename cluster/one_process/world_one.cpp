// The world of a build without MPI: always this one process. Launched by mpirun / srun, it
// refuses rather than let every process run the whole job.
#include <cstdio>
#include <cstdlib>

#include "base/error.h"
#include "cluster/world.h"

namespace stuckat::cluster {

void start_world(int*, char***) {
  std::string how;
  bool several = false;
  if (launched_by_mpi(&how, &several) && several)
    throw_input_error("an MPI launcher started several processes ({}) but this stuckat was built without MPI; install "
                      "libopenmpi-dev and build again, or run it without mpirun / srun",
                      how);
}
void stop_world() {}
void abort_world(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::exit(code);
}
int world_rank() { return 0; }
int world_size() { return 1; }
bool world_is_distributed() { return false; }
std::string world_library() { return "none (built without MPI)"; }
Agreement world_agree(bool ok) { return {ok, ok}; }
void world_sum(double*, int64_t) {}
void world_sum(float*, int64_t) {}
bool world_all_equal(uint64_t) { return true; }
bool world_cuda_aware() { return false; }
void world_send(int, int, const std::string&) { throw Error("world_send: a one-process world has no other rank"); }
bool world_try_receive(int*, int*, std::string*) { return false; }
int world_wait_receive(int, std::string*) { throw Error("world_wait_receive: a one-process world has no other rank"); }

}  // namespace stuckat::cluster
