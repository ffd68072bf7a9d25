// CIFAR-10 binary batches (1 label byte + 3072 pixel bytes per record).
#include "framework/data/cifar_reader.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stuckat;
  const std::string path = fuzz::input_file(data, size, "test_batch.bin");
  fuzz::refuse_or_read([&] { (void)read_cifar_batches({path}); });
  return 0;
}
