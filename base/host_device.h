// STUCKAT_HD marks a function for both the host and the GPU: __host__ __device__ under nvcc,
// nothing for the host compiler. Such functions hold the per-element logic that a CUDA kernel
// and its CPU reference or test share.
#pragma once

#ifdef __CUDACC__
#define STUCKAT_HD __host__ __device__
#else
#define STUCKAT_HD
#endif

// Asks nvcc to unroll the loop that follows (the host compiler decides for itself).
#ifdef __CUDACC__
#define STUCKAT_UNROLL _Pragma("unroll")
#else
#define STUCKAT_UNROLL
#endif
