// Dataset, device and thread flags.
#include "cli/data_flags.h"

#include <thread>

#include "base/error.h"
#include "base/limits.h"
#include "framework/parallel.h"
#include "kernels/cuda/memory.h"

namespace stuckat::cli {

void add_data_flags(CLI::App& cmd, DataFlags& f) {
  cmd.add_option("--data", f.data.name, "fashion-mnist | mnist | cifar10 | synthetic")->capture_default_str();
  cmd.add_option("--data-dir", f.data.dir,
                 "directory of the data files (fashion-mnist defaults to /usr/share/datasets/fashion-mnist)");
  cmd.add_option("--resize", f.data.resize, "32: zero-pad 28x28 images to 32x32 (for the 32x32 models)");
  cmd.add_option("--channels", f.data.channels, "3: replicate a 1-channel image into 3 channels");
  cmd.add_option("--normalize", f.data.normalize,
                 "MEAN,STD for every channel, or m1,m2,m3,s1,s2,s3 (pixel/255 units; default: the data set's own)")
      ->delimiter(',');
  cmd.add_option("--limit-train", f.data.limit_train, "use only the first N training images (0: all)");
  cmd.add_option("--limit-test", f.data.limit_test, "use only the first N test images (0: all)");
  cmd.add_option("--device", f.device, "cpu | cuda")->capture_default_str();
  cmd.add_option("--threads", f.threads, "CPU threads (0: all cores)")->capture_default_str();
}

void check_threads_flag(int threads) {
  if (threads < 0 || threads > limits::max_threads())
    throw_input_error("--threads must be in 0..{} (0: all cores; at most {} per core), got {}", limits::max_threads(),
                      limits::kThreadsPerCore, threads);
}

Device apply_runtime_flags(const DataFlags& f) {
  check_threads_flag(f.threads);
  int threads = f.threads > 0 ? f.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  set_num_threads(threads);
  if (f.device == "cpu") return Device::CPU;
  if (f.device == "cuda") {
    if (!cuda_available())
      throw_input_error("--device cuda: no CUDA device is available on this machine (or this build has no CUDA backend)");
    cuda::start_runtime();
    return Device::CUDA;
  }
  throw_input_error("--device must be 'cpu' or 'cuda', got '{}'", f.device);
}

}  // namespace stuckat::cli
