// gather_batch: copies shuffled records into reusable batch tensors, one memcpy per image on the
// CPU (compact images: one table lookup per pixel), one gather kernel when the dataset lives on
// the GPU. Also Dataset::to_device.
#include <algorithm>
#include <cstring>

#include "framework/data/dataset.h"
#include "base/error.h"
#include "kernels/cuda/gather_rows.h"

namespace stuckat {
namespace {

// The f32 values of `count` compact images of `channels` planes of `plane` pixels each.
void expand_pixels(const uint8_t* src, int64_t count, int64_t channels, int64_t plane, const std::vector<float>& table,
                   float* dst) {
  for (int64_t i = 0; i < count * channels; ++i) {
    const float* lut = table.data() + (i % channels) * 256;
    const uint8_t* s = src + i * plane;
    float* d = dst + i * plane;
    for (int64_t k = 0; k < plane; ++k) d[k] = lut[s[k]];
  }
}

}  // namespace

void Dataset::to_device(Device device) {
  if (compact() && device != Device::CPU) {
    Tensor expanded = Tensor::empty(images.shape());
    const int64_t n = images.size(0), channels = images.size(1), plane = images.size(2) * images.size(3);
    expand_pixels(static_cast<const uint8_t*>(images.raw_data()), n, channels, plane, pixel_table,
                  expanded.data<float>());
    images = expanded;
    pixel_table.clear();
  }
  images = images.to(device);
  labels = labels.to(device);
}

void gather_batch(const Dataset& data, const std::vector<int64_t>& order, int64_t start, int64_t count,
                  Tensor& images, Tensor& labels) {
  STUCKAT_CHECK(data.images.defined() && data.labels.defined(), "dataset '{}' is empty", data.name);
  STUCKAT_CHECK(data.images.is_contiguous() && data.labels.is_contiguous() &&
                    data.images.device() == data.labels.device(),
                "dataset '{}' must be contiguous, images and labels on one device", data.name);
  STUCKAT_CHECK(start >= 0 && count >= 0 && start + count <= static_cast<int64_t>(order.size()),
                "batch [{}, {}) outside an order of {} records", start, start + count, order.size());
  const int64_t n = data.size();
  const Device device = data.images.device();

  Shape image_shape = data.images.shape();
  image_shape[0] = count;
  if (!images.defined() || images.shape() != image_shape || images.dtype() != DType::F32 ||
      images.device() != device || !images.is_contiguous())
    images = Tensor::empty(image_shape, DType::F32, device);
  if (!labels.defined() || labels.shape() != Shape{count} || labels.dtype() != DType::I32 ||
      labels.device() != device || !labels.is_contiguous())
    labels = Tensor::empty({count}, DType::I32, device);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t record = order[static_cast<size_t>(start + i)];
    STUCKAT_CHECK(record >= 0 && record < n, "record {} outside dataset '{}' of {} records", record, data.name, n);
  }
  const int64_t per_image = data.images.numel() / std::max<int64_t>(n, 1);

  if (device == Device::CUDA) {  // the dataset lives on the GPU: gather there, copy only the indices
    Tensor host_idx = Tensor::empty({count}, DType::I64);
    std::memcpy(host_idx.raw_data(), order.data() + start, static_cast<size_t>(count) * sizeof(int64_t));
    const Tensor idx = host_idx.to(Device::CUDA);
    cuda::gather_rows_f32(data.images.data<float>(), idx.data<int64_t>(), count, per_image, images.data<float>());
    cuda::gather_i32(data.labels.data<int32_t>(), idx.data<int64_t>(), count, labels.data<int32_t>());
    return;
  }

  const int32_t* src_labels = data.labels.data<int32_t>();
  int32_t* dst_labels = labels.data<int32_t>();
  if (data.compact()) {
    STUCKAT_CHECK(static_cast<int64_t>(data.pixel_table.size()) == 256 * data.images.size(1),
                  "dataset '{}': compact images need 256 values per channel", data.name);
    const uint8_t* src = static_cast<const uint8_t*>(data.images.raw_data());
    const int64_t channels = data.images.size(1), plane = per_image / std::max<int64_t>(channels, 1);
    float* dst = images.data<float>();
    for (int64_t i = 0; i < count; ++i) {
      const int64_t record = order[static_cast<size_t>(start + i)];
      expand_pixels(src + record * per_image, 1, channels, plane, data.pixel_table, dst + i * per_image);
      dst_labels[i] = src_labels[record];
    }
    return;
  }
  const size_t image_bytes = static_cast<size_t>(per_image) * sizeof(float);
  const char* src_images = reinterpret_cast<const char*>(data.images.data<float>());  // data<> checks f32
  char* dst_images = static_cast<char*>(images.raw_data());
  for (int64_t i = 0; i < count; ++i) {
    const int64_t record = order[static_cast<size_t>(start + i)];
    std::memcpy(dst_images + i * image_bytes, src_images + record * image_bytes, image_bytes);
    dst_labels[i] = src_labels[record];
  }
}

}  // namespace stuckat
