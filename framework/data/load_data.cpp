// load_data: picks the reader for a dataset name, finds its files, and turns the raw records
// into normalised train/test Datasets.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/data/cifar_reader.h"
#include "framework/data/dataset.h"
#include "framework/data/idx_reader.h"
#include "framework/data/image_transforms.h"
#include "framework/data/normalization.h"
#include "framework/data/synthetic.h"
#include "base/error.h"

namespace stuckat {
namespace {

namespace fs = std::filesystem;

// Debian's dataset-fashion-mnist package installs the four gzip'd IDX files here.
const char* const kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";

void check_directory(const std::string& dir, const std::string& dataset_name) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw_input_error("data directory {} (--data-dir) for {} does not exist or is not a directory", dir, dataset_name);
}

// The IDX file `base` in dir: gzip'd or not, under its usual name or the dotted variant
// ("train-images.idx3-ubyte") some mirrors use.
std::string find_idx_file(const std::string& dir, const std::string& base) {
  std::string dotted = base;
  dotted.replace(dotted.find("-idx"), 4, ".idx");
  std::vector<std::string> candidates = {base + ".gz", base, dotted + ".gz", dotted};
  for (const std::string& name : candidates) {
    fs::path p = fs::path(dir) / name;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  throw_input_error("data directory {} has neither {}.gz nor {} (an IDX file of MNIST or Fashion-MNIST)", dir,
                    (fs::path(dir) / base).string(), (fs::path(dir) / base).string());
}

RawImages read_idx_split_checked(const std::string& dir, const std::string& prefix, const std::string& name) {
  std::string images_path = find_idx_file(dir, prefix + "-images-idx3-ubyte");
  std::string labels_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
  RawImages raw = read_idx_split(images_path, labels_path);
  if (raw.height != 28 || raw.width != 28)
    throw_input_error("{} holds {}x{} images, expected 28x28 for {}", images_path, raw.height, raw.width, name);
  return raw;
}

DataSplit load_idx(const DataOptions& o, const ChannelNormalization& norm) {
  std::string dir = o.dir;
  if (dir.empty()) {
    if (o.name != "fashion-mnist")
      throw_input_error("{} has no default data directory: pass --data-dir with the folder holding "
                        "train-images-idx3-ubyte(.gz) and the other three IDX files",
                        o.name);
    dir = kFashionMnistDefaultDir;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      throw_input_error("the default fashion-mnist directory {} does not exist: install Debian's "
                        "dataset-fashion-mnist package or pass --data-dir",
                        dir);
  }
  check_directory(dir, o.name);
  ImageLayout layout = resolve_layout(o.name, 1, 28, 28, o.resize, o.channels);
  DataSplit split;
  if (!o.test_only)
    split.train = make_dataset(read_idx_split_checked(dir, "train", o.name), o.limit_train, layout, norm, o.compact_train);
  split.test = make_dataset(read_idx_split_checked(dir, "t10k", o.name), o.limit_test, layout, norm);
  return split;
}

// The folder holding the batch files: dir itself or the cifar-10-batches-bin/ the archive unpacks to.
std::string find_cifar_dir(const std::string& dir) {
  std::error_code ec;
  fs::path nested = fs::path(dir) / "cifar-10-batches-bin";
  if (!fs::exists(fs::path(dir) / "data_batch_1.bin", ec) && fs::is_directory(nested, ec)) return nested.string();
  return dir;
}

std::string require_file(const std::string& dir, const std::string& name) {
  fs::path p = fs::path(dir) / name;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec))
    throw_input_error("CIFAR-10 batch file {} is missing (expected data_batch_1..5.bin and test_batch.bin)",
                      p.string());
  return p.string();
}

DataSplit load_cifar10(const DataOptions& o, const ChannelNormalization& norm) {
  if (o.dir.empty())
    throw_input_error("cifar10 has no default data directory: pass --data-dir with the folder holding "
                      "data_batch_1..5.bin and test_batch.bin (or cifar-10-batches-bin/)");
  check_directory(o.dir, o.name);
  std::string dir = find_cifar_dir(o.dir);
  std::vector<std::string> train_files;
  for (int b = 1; b <= 5 && !o.test_only; ++b) train_files.push_back(require_file(dir, "data_batch_" + std::to_string(b) + ".bin"));
  std::string test_file = require_file(dir, "test_batch.bin");
  ImageLayout layout = resolve_layout(o.name, 3, 32, 32, o.resize, o.channels);
  DataSplit split;
  if (!o.test_only) split.train = make_dataset(read_cifar_batches(train_files, o.limit_train), 0, layout, norm, o.compact_train);
  split.test = make_dataset(read_cifar_batches({test_file}, o.limit_test), 0, layout, norm);
  return split;
}

DataSplit load_synthetic(const DataOptions& o) {
  if (o.synthetic_channels < 1)
    throw_input_error("synthetic channels {} is not supported: expected >= 1", o.synthetic_channels);
  if (o.synthetic_size < 1)
    throw_input_error("synthetic image size {} is not supported: expected >= 1", o.synthetic_size);
  if (o.synthetic_train < 0 || o.synthetic_test < 0)
    throw_input_error("synthetic split sizes {} (train) and {} (test) must be >= 0", o.synthetic_train,
                      o.synthetic_test);
  ImageLayout layout =
      resolve_layout(o.name, o.synthetic_channels, o.synthetic_size, o.synthetic_size, o.resize, o.channels);
  // Only the records kept are generated: each sample depends on its index alone.
  auto kept = [](int64_t total, int64_t limit) { return limit > 0 ? std::min(total, limit) : total; };
  DataSplit split;
  if (!o.test_only)
    split.train = make_dataset(make_synthetic_images(kept(o.synthetic_train, o.limit_train), o.synthetic_channels,
                                                     o.synthetic_size, o.seed, SyntheticSplit::Train),
                               0, layout, kSyntheticNormalization);
  split.test = make_dataset(make_synthetic_images(kept(o.synthetic_test, o.limit_test), o.synthetic_channels,
                                                  o.synthetic_size, o.seed, SyntheticSplit::Test),
                            0, layout, kSyntheticNormalization);
  return split;
}

}  // namespace

DataSplit load_data(const DataOptions& options) {
  if (options.limit_train < 0 || options.limit_test < 0)
    throw_input_error("record limits must be >= 0 (0: all), got {} (train) and {} (test)", options.limit_train,
                      options.limit_test);
  // --normalize MEAN,STD (every channel) or three means then three stds, in units of pixel / 255.
  auto norm = [&](const ChannelNormalization& dataset_default) {
    const std::vector<double>& v = options.normalize;
    if (v.empty()) return dataset_default;
    if (v.size() != 2 && v.size() != 6)
      throw_input_error("--normalize takes MEAN,STD or three means and three stds (6 values), got {} values", v.size());
    const int64_t channels = options.name == "cifar10" || options.channels == 3 ? 3 : 1;
    if (v.size() == 6 && channels != 3)
      throw_input_error("--normalize gives 3 channels' constants but --data {} gives 1-channel images (add --channels 3)",
                        options.name);
    ChannelNormalization n{v.size() == 2 ? 1 : 3, {}, {}};
    for (int c = 0; c < n.channels; ++c) {
      n.mean[c] = v[size_t(c)];
      n.std[c] = v[size_t(c + n.channels)];
      if (!std::isfinite(n.mean[c]) || !(n.std[c] > 0 && std::isfinite(n.std[c])))
        throw_input_error("--normalize: each std must be a positive number and each mean finite");
    }
    return n;
  };
  DataSplit split;
  if (options.name == "fashion-mnist")
    split = load_idx(options, norm(kFashionMnistNormalization));
  else if (options.name == "mnist")
    split = load_idx(options, norm(kMnistNormalization));
  else if (options.name == "cifar10")
    split = load_cifar10(options, norm(kCifar10Normalization));
  else if (options.name == "synthetic" && !options.normalize.empty())
    throw_input_error("--normalize does not apply to --data synthetic (its images are generated normalised)");
  else if (options.name == "synthetic")
    split = load_synthetic(options);
  else
    throw_input_error("unknown dataset '{}': expected one of fashion-mnist, mnist, cifar10, synthetic", options.name);
  // An empty split would give accuracies of 0 over nothing (or a sweep with no rows to score).
  const std::string where = options.dir.empty() ? std::string() : fmt::format(" in {}", options.dir);
  if (split.test.size() == 0)
    throw_input_error("--data {}: the test split{} holds no images; expected at least one", options.name, where);
  if (!options.test_only && split.train.size() == 0)
    throw_input_error("--data {}: the training split{} holds no images; expected at least one", options.name, where);
  if (options.test_only) {  // no records, the test split's name, image shape and classes
    const Tensor& im = split.test.images;
    split.train.name = split.test.name;
    split.train.num_classes = split.test.num_classes;
    split.train.images = Tensor::empty({0, im.size(1), im.size(2), im.size(3)});
    split.train.labels = Tensor::empty({0}, DType::I32);
  }
  return split;
}

}  // namespace stuckat
