// Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip'd): a big-endian header
// (magic, then one u32 per dimension) followed by u8 data. Every length is checked against the
// header so a truncated download fails loudly instead of training on zeros.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "framework/data/raw_images.h"

namespace stuckat {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;  // u8 data, 3 dimensions (n, rows, cols)
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // u8 data, 1 dimension (n)

// Images (n, 1, rows, cols); labels left empty. Throws InputError naming the file on a wrong
// magic, a zero dimension, or a length that differs from what the header declares.
RawImages read_idx_images(const std::string& path);

// Labels (n); throws InputError naming the file on a wrong magic, a wrong length or a label >= 10.
std::vector<uint8_t> read_idx_labels(const std::string& path);

// Both files of one split; throws InputError naming both when their counts differ.
RawImages read_idx_split(const std::string& images_path, const std::string& labels_path);

}  // namespace stuckat
