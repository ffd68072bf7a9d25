// What the launcher's environment says, shared by the MPI and the one-process builds of the world.
#include <cstdlib>
#include <string>

#include "cluster/world.h"

namespace stuckat::cluster {
namespace {
long env_long(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return -1;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return *end == '\0' ? x : -1;
}
}  // namespace

bool launched_by_mpi(std::string* how, bool* several) {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const long n = env_long(name);
    if (n >= 1) {
      *how = std::string(name) + "=" + std::to_string(n);
      *several = n > 1;
      return true;
    }
  }
  // PMIx tells the rank, not the size; under srun, Slurm tells the step's task count.
  if (env_long("PMIX_RANK") >= 0) {
    const long tasks = env_long("SLURM_STEP_NUM_TASKS");
    *how = "PMIX_RANK=" + std::to_string(env_long("PMIX_RANK"));
    *several = tasks != 1;
    return true;
  }
  return false;
}

int world_local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
    const long r = env_long(name);
    if (r >= 0) return static_cast<int>(r);
  }
  return 0;
}

thread_local int g_one_process_scopes = 0;  // read by world_rank() / world_size()
ScopedOneProcess::ScopedOneProcess() { ++g_one_process_scopes; }
ScopedOneProcess::~ScopedOneProcess() { --g_one_process_scopes; }

}  // namespace stuckat::cluster
