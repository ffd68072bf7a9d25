// IDX images and labels (raw or gzip'd: the content decides), read as a test split.
#include "framework/data/idx_reader.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stuckat;
  // The first byte picks the file kind, so one corpus covers images and labels.
  if (size == 0) return 0;
  const std::string path = fuzz::input_file(data + 1, size - 1, "idx");
  fuzz::refuse_or_read([&] {
    if (data[0] & 1)
      (void)read_idx_labels(path);
    else
      (void)read_idx_images(path);
  });
  return 0;
}
