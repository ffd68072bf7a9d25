// QueueMark (queue_mark.h): a CUDA event recorded on the default stream.
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/queue_mark.h"

namespace stuckat::cuda {

QueueMark::~QueueMark() {
  if (event_) cudaEventDestroy(static_cast<cudaEvent_t>(event_));
}

QueueMark& QueueMark::operator=(QueueMark&& other) noexcept {
  if (this != &other) {
    if (event_) cudaEventDestroy(static_cast<cudaEvent_t>(event_));
    event_ = other.event_;
    other.event_ = nullptr;
  }
  return *this;
}

void QueueMark::record() {
  if (!event_) {
    cudaEvent_t e;
    CUDA_CHECK(cudaEventCreate(&e));
    event_ = e;
  }
  CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event_), 0));
}

double QueueMark::ms_since(const QueueMark& earlier) const {
  if (!event_ || !earlier.event_) return -1;
  CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event_)));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(earlier.event_), static_cast<cudaEvent_t>(event_)));
  return ms;
}

}  // namespace stuckat::cuda
