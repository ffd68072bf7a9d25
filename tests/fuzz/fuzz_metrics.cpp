// A training run's metrics.jsonl as `train --resume` and `plot` read it (rows, then one field per
// epoch).
#include "framework/io/metrics_file.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stuckat;
  const std::string path = fuzz::input_file(data, size, "metrics.jsonl");
  fuzz::refuse_or_read([&] {
    const std::vector<MetricsRow> rows = read_metrics_file(path);
    (void)metrics_curve(rows, "test_acc", path);
  });
  return 0;
}
