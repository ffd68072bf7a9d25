// Padding, channel replication and normalisation of raw images (see image_transforms.h).
#include "framework/data/image_transforms.h"

#include <algorithm>
#include <array>
#include <vector>

#include "base/error.h"

namespace stuckat {

ImageLayout resolve_layout(const std::string& dataset_name, int64_t native_channels, int64_t native_height,
                           int64_t native_width, int64_t resize, int64_t channels) {
  ImageLayout layout{native_channels, native_height, native_width, dataset_name};
  std::vector<std::string> changes;

  bool square = native_height == native_width;
  bool can_pad = square && native_height == 28;
  if (resize != 0 && !(square && resize == native_height) && !(can_pad && resize == 32)) {
    if (can_pad)
      throw_input_error("--resize {} is not supported for {} ({}x{} images): expected 0 or 28 (native) or 32 "
                        "(zero-pad to 32x32)",
                        resize, dataset_name, native_height, native_width);
    throw_input_error("--resize {} is not supported for {} ({}x{} images): expected 0 or {} (native size)", resize,
                      dataset_name, native_height, native_width, native_height);
  }
  if (resize == 32 && can_pad) {
    layout.height = layout.width = 32;
    changes.push_back("padded to 32x32");
  }

  if (channels != 0 && channels != 1 && channels != 3)
    throw_input_error("--channels {} is not supported: expected 0 (native), 1 or 3", channels);
  if (channels != 0 && channels != native_channels) {
    if (!(native_channels == 1 && channels == 3))
      throw_input_error("--channels {} is not supported for {} ({}-channel images): expected 0 or {}{}", channels,
                        dataset_name, native_channels, native_channels, native_channels == 1 ? " or 3" : "");
    layout.channels = 3;
    changes.push_back("3 channels");
  }

  if (!changes.empty()) {
    layout.name += " (";
    for (size_t i = 0; i < changes.size(); ++i) layout.name += (i ? ", " : "") + changes[i];
    layout.name += ")";
  }
  return layout;
}

Dataset make_dataset(const RawImages& raw, int64_t limit, const ImageLayout& layout, const ChannelNormalization& norm,
                     bool compact) {
  STUCKAT_CHECK(layout.height >= raw.height && layout.width >= raw.width &&
                    (layout.channels == raw.channels || raw.channels == 1),
                "layout ({}, {}, {}) cannot be made from raw images ({}, {}, {})", layout.channels, layout.height,
                layout.width, raw.channels, raw.height, raw.width);
  STUCKAT_CHECK(raw.channels == norm.channels || norm.channels == 1 || norm.channels == layout.channels,
                "{} normalisation channels for {}-channel images", norm.channels, raw.channels);
  const int64_t n = limit > 0 ? std::min(limit, raw.count) : raw.count;
  const int64_t out_c = layout.channels, out_h = layout.height, out_w = layout.width;
  const int64_t pad_y = (out_h - raw.height) / 2, pad_x = (out_w - raw.width) / 2;
  const int64_t src_plane = raw.height * raw.width, dst_plane = out_h * out_w;
  const int64_t src_image = raw.image_bytes();

  // 256-entry table per output channel: one lookup per pixel, and the value is exactly the
  // double-precision formula rounded once to f32.
  std::vector<std::array<float, 256>> table(static_cast<size_t>(out_c));
  for (int64_t c = 0; c < out_c; ++c) {
    int k = norm.channels == 1 ? 0 : static_cast<int>(c);
    for (int p = 0; p < 256; ++p)
      table[static_cast<size_t>(c)][static_cast<size_t>(p)] =
          static_cast<float>((p / 255.0 - norm.mean[k]) / norm.std[k]);
  }

  Dataset out;
  out.name = layout.name;
  out.num_classes = 10;
  out.labels = Tensor::empty({n}, DType::I32);
  int32_t* labels = out.labels.data<int32_t>();
  const bool padded = out_h != raw.height || out_w != raw.width;
  if (compact) {
    out.images = Tensor::empty({n, out_c, out_h, out_w}, DType::U8);
    uint8_t* bytes = static_cast<uint8_t*>(out.images.raw_data());
    for (const auto& lut : table) out.pixel_table.insert(out.pixel_table.end(), lut.begin(), lut.end());
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      labels[i] = raw.labels[static_cast<size_t>(i)];
      for (int64_t c = 0; c < out_c; ++c) {
        const uint8_t* src = raw.pixels.data() + i * src_image + (raw.channels == 1 ? 0 : c) * src_plane;
        uint8_t* dst = bytes + (i * out_c + c) * dst_plane;
        if (padded) std::fill(dst, dst + dst_plane, uint8_t{0});
        for (int64_t y = 0; y < raw.height; ++y)
          std::copy(src + y * raw.width, src + (y + 1) * raw.width, dst + (y + pad_y) * out_w + pad_x);
      }
    }
    return out;
  }
  out.images = Tensor::empty({n, out_c, out_h, out_w});
  float* images = out.images.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = raw.labels[static_cast<size_t>(i)];
    for (int64_t c = 0; c < out_c; ++c) {
      const std::array<float, 256>& lut = table[static_cast<size_t>(c)];
      const uint8_t* src = raw.pixels.data() + i * src_image + (raw.channels == 1 ? 0 : c) * src_plane;
      float* dst = images + (i * out_c + c) * dst_plane;
      if (padded) std::fill(dst, dst + dst_plane, lut[0]);
      for (int64_t y = 0; y < raw.height; ++y) {
        float* row = dst + (y + pad_y) * out_w + pad_x;
        const uint8_t* src_row = src + y * raw.width;
        for (int64_t x = 0; x < raw.width; ++x) row[x] = lut[src_row[x]];
      }
    }
  }
  return out;
}

}  // namespace stuckat
