// Where a tensor's memory lives, and whether this process can use a GPU. Data crosses devices
// only through Tensor::to(device).
#pragma once

namespace stuckat {

enum class Device { CPU, CUDA };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// True when this build has the CUDA backend and at least one GPU is visible.
bool cuda_available();

}  // namespace stuckat
