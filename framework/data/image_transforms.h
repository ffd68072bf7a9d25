// Raw 8-bit images -> a normalised f32 Dataset, with the two layout changes the models need:
// zero-padding 28x28 to 32x32 and replicating one channel to three, so LeNet-style data can
// feed the 32x32x3 VGG/ResNet models.
#pragma once
#include <cstdint>
#include <string>

#include "framework/data/dataset.h"
#include "framework/data/normalization.h"
#include "framework/data/raw_images.h"

namespace stuckat {

// Output layout of one dataset after the requested resize/channels options.
struct ImageLayout {
  int64_t channels = 0, height = 0, width = 0;  // output image shape
  std::string name;                             // e.g. "fashion-mnist (padded to 32x32, 3 channels)"
};

// Checks resize (0, the native size, or 32 from 28) and channels (0, the native count, or 3 from
// 1) against a native (channels, height, width) shape; throws InputError naming the option.
ImageLayout resolve_layout(const std::string& dataset_name, int64_t native_channels, int64_t native_height,
                           int64_t native_width, int64_t resize, int64_t channels);

// The first `limit` records (0: all) as images (n, layout.channels, layout.height, layout.width)
// f32 = (pixel / 255 - mean[c]) / std[c] and labels (n) i32. Padding is pixel value 0 before
// normalisation; a replicated channel c uses the grayscale constants when norm.channels == 1.
// `compact`: the images stay u8 in that layout, with the table of their f32 values
// (Dataset::pixel_table).
Dataset make_dataset(const RawImages& raw, int64_t limit, const ImageLayout& layout, const ChannelNormalization& norm,
                     bool compact = false);

}  // namespace stuckat
