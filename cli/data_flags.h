// Flags shared by every command that reads a dataset or picks a device and thread count.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "framework/data/dataset.h"
#include "base/device.h"

namespace stuckat::cli {

struct DataFlags {
  DataOptions data;
  std::string device = "cpu";
  int threads = 0;  // 0: all cores
};

void add_data_flags(CLI::App& cmd, DataFlags& f);
// Refuses a --threads value outside 0..limits::max_threads() (0: all cores).
void check_threads_flag(int threads);
// Applies --threads and validates --device (throws InputError); returns the device.
Device apply_runtime_flags(const DataFlags& f);

}  // namespace stuckat::cli
