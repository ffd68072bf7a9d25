// Fault specs (--faults): parsed, and a parsed spec printed and parsed again to the same text.
#include "faults/fault_spec.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stuckat;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::refuse_or_read([&] {
    const FaultSpec spec = parse_fault_spec(text);
    const std::string printed = fault_spec_string(spec);
    if (fault_spec_string(parse_fault_spec(printed)) != printed) __builtin_trap();  // not a fixed point
  });
  return 0;
}
