// safetensors files: the whole reader (header JSON, dtypes, offsets, data) and the checkpoint
// metadata checks stuckat applies when it reads one back.
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stuckat;
  const std::string path = fuzz::input_file(data, size, "x.safetensors");
  fuzz::refuse_or_read([&] { (void)read_safetensors(path); });
  fuzz::refuse_or_read([&] { (void)read_checkpoint_metadata(path); });
  return 0;
}
