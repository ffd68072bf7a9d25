// One GPU per rank: a distributed job started with --device cuda uses the GPU of its rank on
// its node (OMPI_COMM_WORLD_LOCAL_RANK / SLURM_LOCALID modulo the visible GPUs), so a node with
// 8 GPUs runs 8 ranks.
#pragma once
#include <string>

namespace stuckat::jobs {

// Selects this rank's GPU before any CUDA work and says which on stderr ("<job>: rank r on GPU g
// of n"); throws InputError when no GPU is visible.
void use_local_gpu(const std::string& job);

}  // namespace stuckat::jobs
