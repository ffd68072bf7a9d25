// Sweep CSV files as --resume reads them (rows, a partial last line, the row checks).
#include "sweep/sweep_csv.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stuckat;
  const std::string path = fuzz::input_file(data, size, "sweep.csv");
  fuzz::refuse_or_read([&] { (void)sweep::read_sweep_csv(path); });
  return 0;
}
