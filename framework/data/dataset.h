// In-memory image classification data: every split fits in memory (Fashion-MNIST's training
// split is 188 MB as f32, 47 MB as bytes), so batches are gathered from one tensor without I/O
// during training.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "framework/tensor.h"

namespace stuckat {

struct Dataset {
  std::string name;   // e.g. "fashion-mnist" or "fashion-mnist (padded to 32x32, 3 channels)"
  // (n, c, h, w) f32, normalised; or (compact, DataOptions::compact_train) the raw pixels as u8
  // in that layout, pixel p of channel c standing for pixel_table[c * 256 + p]: gather_batch
  // converts a batch's pixels as it copies them, bit for bit the f32 values.
  Tensor images;
  Tensor labels;      // (n) i32 in [0, num_classes)
  std::vector<float> pixel_table;  // compact images only: 256 values per channel
  int64_t num_classes = 10;
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  bool compact() const { return images.defined() && images.dtype() == DType::U8; }
  // Moves images and labels to `device` (once, e.g. to the GPU for a whole run); compact images
  // become f32 first (the GPU gathers f32 records).
  void to_device(Device device);
};

struct DataSplit {
  Dataset train, test;
};

struct DataOptions {
  std::string name = "fashion-mnist";  // fashion-mnist | mnist | cifar10 | synthetic
  std::string dir;                     // empty: the default directory for that name
  int64_t resize = 0;                  // 0: native size; 32: zero-pad 28x28 to 32x32
  int64_t channels = 0;                // 0: native; 3: replicate a 1-channel image
  // Empty: the data set's own; else {mean, std} for every channel or {m1, m2, m3, s1, s2, s3}
  // (units of pixel / 255), e.g. ImageNet's for a torchvision model.
  std::vector<double> normalize;
  // Keep the training split's images as bytes (a quarter of the memory) and convert each batch
  // as it is gathered; train and prune set it. Synthetic data is generated as f32 and stays so.
  bool compact_train = false;
  int64_t limit_train = 0;             // 0: all; else the first N records
  int64_t limit_test = 0;
  // Read only the test split (sweep, eval): the training files need not exist, and the train
  // split comes back empty, shaped like the test split.
  bool test_only = false;
  // Synthetic data only:
  int64_t synthetic_train = 2048, synthetic_test = 512;
  int64_t synthetic_channels = 1, synthetic_size = 28;
  uint64_t seed = 0;
};

// Loads train and test splits; throws InputError naming the file or option on bad input.
DataSplit load_data(const DataOptions& options);

// Copies records order[start .. start+count) into images (count, c, h, w) and labels (count) on
// the dataset's device (a dataset moved to the GPU with Dataset::to_device stays there for every epoch:
// only the batch's indices travel). images and labels are reallocated only when their shape or
// device changes.
void gather_batch(const Dataset& data, const std::vector<int64_t>& order, int64_t start, int64_t count,
                  Tensor& images, Tensor& labels);

}  // namespace stuckat
