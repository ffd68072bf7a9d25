// CIFAR-10 binary batch decoding: splits each record into its label and its (3, 32, 32) planes.
#include "framework/data/cifar_reader.h"

#include <algorithm>
#include <cstring>

#include "framework/data/file_bytes.h"
#include "base/error.h"

namespace stuckat {

RawImages read_cifar_batches(const std::vector<std::string>& paths, int64_t limit) {
  RawImages out;
  out.channels = 3;
  out.height = 32;
  out.width = 32;
  for (const std::string& path : paths) {
    if (limit > 0 && out.count >= limit) break;
    std::vector<uint8_t> bytes = read_file_bytes(path);
    if (bytes.size() % kCifarRecordBytes != 0)
      throw_input_error("{} holds {} bytes, expected a multiple of {} (1 label byte + 3072 pixel bytes per record)",
                        path, bytes.size(), kCifarRecordBytes);
    int64_t records = static_cast<int64_t>(bytes.size()) / kCifarRecordBytes;
    if (limit > 0) records = std::min(records, limit - out.count);
    size_t first_pixel = out.pixels.size();
    out.pixels.resize(first_pixel + static_cast<size_t>(records * kCifarImageBytes));
    out.labels.reserve(out.labels.size() + static_cast<size_t>(records));
    for (int64_t r = 0; r < records; ++r) {
      const uint8_t* record = bytes.data() + r * kCifarRecordBytes;
      if (record[0] >= 10)
        throw_input_error("{} has label {} at record {}, expected a class in 0..9", path, record[0], r);
      out.labels.push_back(record[0]);
      std::memcpy(out.pixels.data() + first_pixel + r * kCifarImageBytes, record + 1, kCifarImageBytes);
    }
    out.count += records;
  }
  return out;
}

}  // namespace stuckat
