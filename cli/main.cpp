// bin/stuckat: the one command-line entry point. Bad input ends with one sentence and exit 2;
// an internal error with exit 1.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"
#include "base/error.h"
#include "cluster/work_queue.h"
#include "cluster/world.h"

namespace {

// OpenMP threads that spin while waiting for work take the cores from the thread that has work
// when other processes share the machine (LeNet-5 training fell from ~20k to ~2k images/s next
// to two compiler jobs). The GNU runtime reads OMP_WAIT_POLICY before main() runs, so when the
// user has not chosen one, set "passive" (waiting threads sleep) and start the program again.
void prefer_passive_openmp_waits(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp_waits(argv);
  // Under mpirun / srun: MPI starts before the flags are read (it may take its own arguments).
  try {
    stuckat::cluster::start_world(&argc, &argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stuckat: %s\n", e.what());
    return 2;
  }
  const int code = stuckat::cli::run_command(argc, argv);
  stuckat::cluster::stop_world();
  return code;
}
