// Reader for the CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin): records of one
// label byte followed by 3072 pixel bytes, the R, G and B 32x32 planes in that order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "framework/data/raw_images.h"

namespace stuckat {

inline constexpr int64_t kCifarImageBytes = 3 * 32 * 32;
inline constexpr int64_t kCifarRecordBytes = 1 + kCifarImageBytes;

// Images (n, 3, 32, 32) and labels from the batch files in order, stopping once `limit` records
// are read (0: read every file). Throws InputError naming the file when one is missing, its size
// is not a multiple of 3073 bytes, or a label is >= 10.
RawImages read_cifar_batches(const std::vector<std::string>& paths, int64_t limit = 0);

}  // namespace stuckat
