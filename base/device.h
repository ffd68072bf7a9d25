// Where a tensor's memory lives, and whether this process can use a GPU. Data crosses devices
// only through Tensor::to(device).
#pragma once
#include <string>

namespace stuckat {

enum class Device { CPU, CUDA };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// True when this build has the CUDA backend and at least one GPU is visible.
bool cuda_available();

// Why cuda_available() is false, in words: no backend in this build, no device visible, or the
// CUDA runtime's own error (a driver mismatch is not the same as "no GPU"); empty when true.
std::string cuda_unavailable_reason();

// The number of visible GPUs (0 without the backend or a device), and making GPU `index` the one
// this process's CUDA calls use from now on (throws Error when the runtime refuses it).
int cuda_device_count();
void use_cuda_device(int index);

}  // namespace stuckat
