// Images as they come off disk (or out of the synthetic generator): 8-bit pixels and labels,
// before padding, channel replication and normalisation to f32. Readers fill this one shape so
// every source shares the same transform into a Dataset.
#pragma once
#include <cstdint>
#include <vector>

namespace stuckat {

struct RawImages {
  int64_t count = 0;
  int64_t channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // (count, channels, height, width), row-major, 0..255
  std::vector<uint8_t> labels;  // (count), each < 10 (checked by the readers)

  int64_t image_bytes() const { return channels * height * width; }
};

}  // namespace stuckat
