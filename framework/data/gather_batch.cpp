// gather_batch: copies shuffled records into reusable batch tensors, one memcpy per image.
#include <algorithm>
#include <cstring>

#include "framework/data/dataset.h"
#include "framework/error.h"

namespace stuckat {

void gather_batch(const Dataset& data, const std::vector<int64_t>& order, int64_t start, int64_t count,
                  Tensor& images, Tensor& labels) {
  STUCKAT_CHECK(data.images.defined() && data.labels.defined(), "dataset '{}' is empty", data.name);
  STUCKAT_CHECK(data.images.device() == Device::CPU && data.images.is_contiguous() && data.labels.is_contiguous(),
                "dataset '{}' must be contiguous on the CPU", data.name);
  STUCKAT_CHECK(start >= 0 && count >= 0 && start + count <= static_cast<int64_t>(order.size()),
                "batch [{}, {}) outside an order of {} records", start, start + count, order.size());
  const int64_t n = data.size();

  Shape image_shape = data.images.shape();
  image_shape[0] = count;
  if (!images.defined() || images.shape() != image_shape || images.dtype() != DType::F32 ||
      images.device() != Device::CPU || !images.is_contiguous())
    images = Tensor::empty(image_shape);
  if (!labels.defined() || labels.shape() != Shape{count} || labels.dtype() != DType::I32 ||
      labels.device() != Device::CPU || !labels.is_contiguous())
    labels = Tensor::empty({count}, DType::I32);

  const size_t image_bytes = static_cast<size_t>(data.images.numel() / std::max<int64_t>(n, 1)) * sizeof(float);
  const char* src_images = reinterpret_cast<const char*>(data.images.data<float>());  // data<> checks f32
  const int32_t* src_labels = data.labels.data<int32_t>();
  char* dst_images = static_cast<char*>(images.raw_data());
  int32_t* dst_labels = labels.data<int32_t>();
  for (int64_t i = 0; i < count; ++i) {
    int64_t record = order[static_cast<size_t>(start + i)];
    STUCKAT_CHECK(record >= 0 && record < n, "record {} outside dataset '{}' of {} records", record, data.name, n);
    std::memcpy(dst_images + i * image_bytes, src_images + record * image_bytes, image_bytes);
    dst_labels[i] = src_labels[record];
  }
}

}  // namespace stuckat
