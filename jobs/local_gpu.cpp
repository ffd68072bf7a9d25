// Picking a rank's GPU (jobs/local_gpu.h).
#include "jobs/local_gpu.h"

#include <cstdio>

#include "base/device.h"
#include "base/error.h"
#include "cluster/world.h"

namespace stuckat::jobs {

void use_local_gpu(const std::string& job) {
  const int n = cuda_device_count();
  if (n == 0) throw_input_error("--device cuda: {}", cuda_unavailable_reason());
  const int local = cluster::world_local_rank(), gpu = local % n;
  use_cuda_device(gpu);
  std::fprintf(stderr, "%s: rank %d (local rank %d) on GPU %d of %d%s\n", job.c_str(), cluster::world_rank(), local, gpu, n,
               local >= n ? " (more ranks than GPUs on this node: they share)" : "");
}

}  // namespace stuckat::jobs
