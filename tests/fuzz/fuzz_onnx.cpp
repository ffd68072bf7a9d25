// ONNX models as `--checkpoint FILE.onnx` reads them: protobuf, initializers, attributes, the
// graph check and one run on the declared input shape (values capped at 2^20 elements here, so
// memory follows the cap, not a file's claims).
#include "models/graph_ops.h"
#include "onnx/onnx_import.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stuckat;
  graph_detail::max_value_elements() = int64_t(1) << 20;
  const std::string path = fuzz::input_file(data, size, "m.onnx");
  fuzz::refuse_or_read([&] { (void)import_onnx(path); });
  return 0;
}
