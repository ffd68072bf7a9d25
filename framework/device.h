// Where a tensor's memory lives. Data crosses devices only through Tensor::to(device).
#pragma once

namespace stuckat {

enum class Device { CPU, CUDA };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// True when this build has the CUDA backend and at least one GPU is visible.
bool cuda_available();

// Starts the CUDA runtime and cuBLAS now (the context and the cuBLAS handle, about 0.1 s once
// per process) instead of inside the first op that needs them. Commands call it when --device
// cuda is chosen, so timed work (a sweep, an epoch) does not include it. No-op without CUDA.
void cuda_init();

}  // namespace stuckat
