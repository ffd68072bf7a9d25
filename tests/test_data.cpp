// Dataset tests: small IDX and CIFAR-10 files written byte by byte (raw and gzip'd) must decode to
// exactly those bytes, normalised by the documented formula; bad files must fail with an
// InputError naming the file. The installed Fashion-MNIST is checked against its published facts.
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "framework/data/cifar_reader.h"
#include "framework/data/dataset.h"
#include "framework/data/file_bytes.h"
#include "framework/data/idx_reader.h"
#include "framework/data/normalization.h"
#include "framework/data/synthetic.h"
#include "base/error.h"

namespace fs = std::filesystem;
using stuckat::DataOptions;
using stuckat::InputError;
using stuckat::Tensor;
using Bytes = std::vector<uint8_t>;

// Runs expr twice: once for the exception type, once for the message.
#define REQUIRE_INPUT_ERROR_MENTIONING(expr, text) \
  do {                                             \
    REQUIRE_THROWS_AS(expr, InputError);           \
    REQUIRE_THROWS_WITH(expr, Catch::Contains(text)); \
  } while (0)

namespace {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("stuckat_test_data_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void write_raw(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

void write_gzip(const std::string& path, const Bytes& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  REQUIRE(gz != nullptr);
  if (!bytes.empty())
    REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

Bytes read_raw(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void push_be32(Bytes& b, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
}

// A pixel pattern where neighbouring pixels, images and channels all differ, so a misplaced
// byte shows up as a wrong value.
uint8_t pattern_pixel(int64_t image, int64_t channel, int64_t y, int64_t x) {
  return static_cast<uint8_t>((image * 37 + channel * 101 + y * 11 + x * 3 + 5) % 256);
}
uint8_t pattern_label(int64_t image) { return static_cast<uint8_t>((image * 3 + 1) % 10); }

Bytes idx_images(int64_t n, int64_t rows, int64_t cols) {
  Bytes b;
  push_be32(b, 0x00000803);
  push_be32(b, static_cast<uint32_t>(n));
  push_be32(b, static_cast<uint32_t>(rows));
  push_be32(b, static_cast<uint32_t>(cols));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < rows; ++y)
      for (int64_t x = 0; x < cols; ++x) b.push_back(pattern_pixel(i, 0, y, x));
  return b;
}

Bytes idx_labels(int64_t n) {
  Bytes b;
  push_be32(b, 0x00000801);
  push_be32(b, static_cast<uint32_t>(n));
  for (int64_t i = 0; i < n; ++i) b.push_back(pattern_label(i));
  return b;
}

// The four Fashion-MNIST/MNIST files of n_train and n_test 28x28 images; train gzip'd, test raw
// unless stated, so one load exercises both paths.
void write_idx_dir(const TempDir& dir, int64_t n_train, int64_t n_test, bool gzip_train = true,
                   bool gzip_test = false) {
  auto put = [&](const std::string& base, const Bytes& bytes, bool gz) {
    if (gz)
      write_gzip(dir.file(base + ".gz"), bytes);
    else
      write_raw(dir.file(base), bytes);
  };
  put("train-images-idx3-ubyte", idx_images(n_train, 28, 28), gzip_train);
  put("train-labels-idx1-ubyte", idx_labels(n_train), gzip_train);
  put("t10k-images-idx3-ubyte", idx_images(n_test, 28, 28), gzip_test);
  put("t10k-labels-idx1-ubyte", idx_labels(n_test), gzip_test);
}

// Reference normalisation, written from the formula: (pixel / 255 - mean) / std, in double.
double normalised(int pixel, double mean, double std) { return (pixel / 255.0 - mean) / std; }

// f32 holds the double reference to within half an ulp; |values| < 4 gives < 2.4e-7.
constexpr double kNormTolerance = 1e-6;

DataOptions options_for(const std::string& name, const std::string& dir) {
  DataOptions o;
  o.name = name;
  o.dir = dir;
  return o;
}

// CIFAR-10 record r of a batch: label then R, G, B planes from pattern_pixel(first + r, c, y, x).
Bytes cifar_batch(int64_t first, int64_t records) {
  Bytes b;
  for (int64_t r = 0; r < records; ++r) {
    b.push_back(pattern_label(first + r));
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) b.push_back(pattern_pixel(first + r, c, y, x));
  }
  return b;
}

// Writes data_batch_1..5 (2 records each, records 0..9) and test_batch (3 records) into dir.
void write_cifar_dir(const std::string& dir) {
  fs::create_directories(dir);
  for (int b = 1; b <= 5; ++b)
    write_raw(dir + "/data_batch_" + std::to_string(b) + ".bin", cifar_batch(2 * (b - 1), 2));
  write_raw(dir + "/test_batch.bin", cifar_batch(100, 3));
}

}  // namespace

TEST_CASE("normalisation constants are the documented per-dataset values", "[data]") {
  // Hand-computed: (1 - 0.2860) / 0.3530 = 2.02266289 and -0.2860 / 0.3530 = -0.81019830.
  CHECK(normalised(255, stuckat::kFashionMnistMean, stuckat::kFashionMnistStd) ==
        Approx(2.02266289).epsilon(1e-8));
  CHECK(normalised(0, stuckat::kFashionMnistMean, stuckat::kFashionMnistStd) ==
        Approx(-0.81019830).epsilon(1e-8));
  CHECK(stuckat::kMnistMean == 0.1307);
  CHECK(stuckat::kMnistStd == 0.3081);
  CHECK(stuckat::kCifar10Mean[2] == 0.4465);
  CHECK(stuckat::kCifar10Std[1] == 0.2435);
}

TEST_CASE("IDX images and labels decode to the bytes written, raw or gzip'd", "[data]") {
  TempDir dir;
  Bytes images = idx_images(3, 2, 5);
  write_raw(dir.file("raw-images"), images);
  write_gzip(dir.file("zipped-images.gz"), images);
  write_raw(dir.file("raw-but-named.gz"), images);       // a .gz name on a raw file
  write_gzip(dir.file("zipped-but-named-raw"), images);  // gzip content without the .gz name
  for (const char* name : {"raw-images", "zipped-images.gz", "raw-but-named.gz", "zipped-but-named-raw"}) {
    INFO(name);
    stuckat::RawImages raw = stuckat::read_idx_images(dir.file(name));
    REQUIRE(raw.count == 3);
    REQUIRE(raw.channels == 1);
    REQUIRE(raw.height == 2);
    REQUIRE(raw.width == 5);
    REQUIRE(raw.pixels == Bytes(images.begin() + 16, images.end()));
  }
  CHECK(stuckat::is_gzip_file(dir.file("zipped-but-named-raw")));
  CHECK_FALSE(stuckat::is_gzip_file(dir.file("raw-but-named.gz")));

  write_gzip(dir.file("labels.gz"), idx_labels(4));
  CHECK(stuckat::read_idx_labels(dir.file("labels.gz")) == Bytes{1, 4, 7, 0});
}

TEST_CASE("fashion-mnist loads from a directory and normalises with its constants", "[data]") {
  TempDir dir;
  write_idx_dir(dir, 3, 2);
  stuckat::DataSplit split = stuckat::load_data(options_for("fashion-mnist", dir.str()));
  const double mean = 0.2860, std = 0.3530;
  REQUIRE(split.train.name == "fashion-mnist");
  REQUIRE(split.train.images.shape() == stuckat::Shape{3, 1, 28, 28});
  REQUIRE(split.test.images.shape() == stuckat::Shape{2, 1, 28, 28});
  REQUIRE(split.train.labels.dtype() == stuckat::DType::I32);
  REQUIRE(split.train.num_classes == 10);
  for (const stuckat::Dataset* d : {&split.train, &split.test}) {
    const float* px = d->images.data<float>();
    const int32_t* lab = d->labels.data<int32_t>();
    for (int64_t i = 0; i < d->size(); ++i) {
      CHECK(lab[i] == pattern_label(i));
      for (int64_t y = 0; y < 28; ++y)
        for (int64_t x = 0; x < 28; ++x)
          REQUIRE(px[(i * 28 + y) * 28 + x] ==
                  Approx(normalised(pattern_pixel(i, 0, y, x), mean, std)).margin(kNormTolerance));
    }
  }
}

TEST_CASE("IDX files are found under their uncompressed names too; mnist uses its own constants", "[data]") {
  TempDir dir;
  write_idx_dir(dir, 2, 2, /*gzip_train=*/false, /*gzip_test=*/false);
  stuckat::DataSplit split = stuckat::load_data(options_for("mnist", dir.str()));
  REQUIRE(split.train.name == "mnist");
  // Pixel (0, 0, 0) is 5: (5 / 255 - 0.1307) / 0.3081 = -0.36057...
  CHECK(split.train.images.data<float>()[0] == Approx((5 / 255.0 - 0.1307) / 0.3081).margin(kNormTolerance));
  CHECK(split.train.images.data<float>()[0] == Approx(-0.36057).margin(1e-5));
}

TEST_CASE("resize=32 zero-pads by 2 pixels and channels=3 replicates the image", "[data]") {
  TempDir dir;
  write_idx_dir(dir, 2, 1);
  DataOptions o = options_for("fashion-mnist", dir.str());
  o.resize = 32;
  o.channels = 3;
  stuckat::DataSplit split = stuckat::load_data(o);
  REQUIRE(split.train.name == "fashion-mnist (padded to 32x32, 3 channels)");
  REQUIRE(split.train.images.shape() == stuckat::Shape{2, 3, 32, 32});
  const double mean = 0.2860, std = 0.3530;
  const float* px = split.train.images.data<float>();
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) {
          bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
          int pixel = inside ? pattern_pixel(i, 0, y - 2, x - 2) : 0;  // padding is raw pixel 0
          REQUIRE(px[((i * 3 + c) * 32 + y) * 32 + x] == Approx(normalised(pixel, mean, std)).margin(kNormTolerance));
        }

  o.channels = 0;
  CHECK(stuckat::load_data(o).train.name == "fashion-mnist (padded to 32x32)");
  o.resize = 28;  // the native size is accepted and changes nothing
  o.channels = 3;
  stuckat::DataSplit replicated = stuckat::load_data(o);
  CHECK(replicated.train.name == "fashion-mnist (3 channels)");
  CHECK(replicated.train.images.shape() == stuckat::Shape{2, 3, 28, 28});
}

TEST_CASE("limit_train and limit_test keep the first N records", "[data]") {
  TempDir dir;
  write_idx_dir(dir, 5, 4);
  DataOptions o = options_for("fashion-mnist", dir.str());
  o.limit_train = 2;
  o.limit_test = 3;
  stuckat::DataSplit split = stuckat::load_data(o);
  REQUIRE(split.train.size() == 2);
  REQUIRE(split.test.size() == 3);
  CHECK(split.test.labels.data<int32_t>()[2] == pattern_label(2));
  CHECK(split.test.images.data<float>()[2 * 784 + 1] ==
        Approx(normalised(pattern_pixel(2, 0, 0, 1), 0.2860, 0.3530)).margin(kNormTolerance));
  o.limit_train = 100;  // more than there are: all of them
  CHECK(stuckat::load_data(o).train.size() == 5);
}

TEST_CASE("test_only reads the test split alone: the training files may be missing", "[data]") {
  TempDir dir;
  write_idx_dir(dir, 5, 4);
  std::filesystem::remove(dir.file("train-images-idx3-ubyte.gz"));
  std::filesystem::remove(dir.file("train-labels-idx1-ubyte.gz"));
  DataOptions o = options_for("fashion-mnist", dir.str());
  CHECK_THROWS_AS(stuckat::load_data(o), stuckat::InputError);  // both splits: the missing file is named
  o.test_only = true;
  const stuckat::DataSplit split = stuckat::load_data(o);
  REQUIRE(split.test.size() == 4);
  CHECK(split.test.labels.data<int32_t>()[3] == pattern_label(3));
  CHECK(split.train.size() == 0);
  CHECK(split.train.images.shape() == stuckat::Shape{0, 1, 28, 28});
  CHECK(split.train.name == split.test.name);
  o.name = "synthetic";
  o.synthetic_test = 7;
  const stuckat::DataSplit synthetic = stuckat::load_data(o);
  CHECK(synthetic.test.size() == 7);
  CHECK(synthetic.train.size() == 0);
}

TEST_CASE("CIFAR-10 batches decode label, R, G, B planes with per-channel constants", "[data]") {
  TempDir dir;
  write_cifar_dir(dir.file("cifar-10-batches-bin"));  // found through the archive's folder name
  DataOptions o = options_for("cifar10", dir.str());
  stuckat::DataSplit split = stuckat::load_data(o);
  REQUIRE(split.train.name == "cifar10");
  REQUIRE(split.train.images.shape() == stuckat::Shape{10, 3, 32, 32});
  REQUIRE(split.test.images.shape() == stuckat::Shape{3, 3, 32, 32});
  const double mean[3] = {0.4914, 0.4822, 0.4465}, std[3] = {0.2470, 0.2435, 0.2616};
  auto check = [&](const stuckat::Dataset& d, int64_t first) {
    const float* px = d.images.data<float>();
    for (int64_t i = 0; i < d.size(); ++i) {
      CHECK(d.labels.data<int32_t>()[i] == pattern_label(first + i));
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t y = 0; y < 32; ++y)
          for (int64_t x = 0; x < 32; ++x)
            REQUIRE(px[((i * 3 + c) * 32 + y) * 32 + x] ==
                    Approx(normalised(pattern_pixel(first + i, c, y, x), mean[c], std[c])).margin(kNormTolerance));
    }
  };
  check(split.train, 0);
  check(split.test, 100);

  // The first 3 training records span batch 1 and batch 2; the dir itself works as well.
  o.dir = dir.file("cifar-10-batches-bin");
  o.limit_train = 3;
  stuckat::DataSplit limited = stuckat::load_data(o);
  REQUIRE(limited.train.size() == 3);
  check(limited.train, 0);

  o.resize = 28;
  REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(o), "--resize 28");
  o.resize = 32;
  o.channels = 1;
  REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(o), "--channels 1");
}

TEST_CASE("gather_batch copies the ordered records and reuses its tensors", "[data]") {
  // 4 records of shape (2, 1, 2): record r holds r*10 + k.
  stuckat::Dataset d;
  std::vector<float> values;
  for (int r = 0; r < 4; ++r)
    for (int k = 0; k < 4; ++k) values.push_back(static_cast<float>(r * 10 + k));
  d.images = Tensor::from_vector(values, {4, 2, 1, 2});
  d.labels = Tensor::from_vector(std::vector<int32_t>{7, 8, 9, 6}, {4});
  std::vector<int64_t> order = {3, 1, 0, 2};

  Tensor images, labels;
  stuckat::gather_batch(d, order, 1, 2, images, labels);  // records 1 and 0
  REQUIRE(images.shape() == stuckat::Shape{2, 2, 1, 2});
  REQUIRE(labels.shape() == stuckat::Shape{2});
  CHECK(images.to_vector() == std::vector<float>{10, 11, 12, 13, 0, 1, 2, 3});
  CHECK(labels.data<int32_t>()[0] == 8);
  CHECK(labels.data<int32_t>()[1] == 7);

  void* storage_before = images.raw_data();
  stuckat::gather_batch(d, order, 2, 2, images, labels);  // same shape: same storage, records 0 and 2
  CHECK(images.raw_data() == storage_before);
  CHECK(images.to_vector() == std::vector<float>{0, 1, 2, 3, 20, 21, 22, 23});
  CHECK(labels.data<int32_t>()[1] == 9);

  stuckat::gather_batch(d, order, 1, 3, images, labels);  // a larger batch reallocates
  CHECK(images.shape() == stuckat::Shape{3, 2, 1, 2});
  CHECK(labels.data<int32_t>()[2] == 9);

  CHECK_THROWS_AS(stuckat::gather_batch(d, order, 3, 2, images, labels), stuckat::Error);  // past the order's end
  std::vector<int64_t> bad_order = {0, 4};
  CHECK_THROWS_AS(stuckat::gather_batch(d, bad_order, 0, 2, images, labels), stuckat::Error);
}

// compact_train keeps the training split as bytes: a batch gathered from it equals, bit for bit,
// the batch gathered from the f32 split (padding, replicated channels, per-channel constants of
// CIFAR-10 included); the test split stays f32; moving it to a device expands it first.
TEST_CASE("a compact training split gathers the same f32 batches as the f32 one", "[data]") {
  TempDir idx_dir, cifar_dir;
  write_idx_dir(idx_dir, 6, 2);
  write_cifar_dir(cifar_dir.str());
  DataOptions padded = options_for("fashion-mnist", idx_dir.str());
  padded.resize = 32;
  padded.channels = 3;
  for (DataOptions o : {options_for("fashion-mnist", idx_dir.str()), padded, options_for("cifar10", cifar_dir.str())}) {
    INFO(o.name << " resize " << o.resize);
    const stuckat::DataSplit full = stuckat::load_data(o);
    o.compact_train = true;
    stuckat::DataSplit compact = stuckat::load_data(o);
    REQUIRE(compact.train.compact());
    CHECK_FALSE(compact.test.compact());
    CHECK(compact.train.images.shape() == full.train.images.shape());
    CHECK(compact.train.images.nbytes() * 4 == full.train.images.nbytes());
    std::vector<int64_t> order;
    for (int64_t i = full.train.size() - 1; i >= 0; --i) order.push_back(i);
    Tensor a, la, b, lb;
    stuckat::gather_batch(full.train, order, 1, 3, a, la);
    stuckat::gather_batch(compact.train, order, 1, 3, b, lb);
    CHECK(a.to_vector() == b.to_vector());
    for (int64_t i = 0; i < 3; ++i) CHECK(la.data<int32_t>()[i] == lb.data<int32_t>()[i]);
    compact.train.to_device(stuckat::Device::CPU);  // the CPU keeps the bytes
    CHECK(compact.train.compact());
  }
}

TEST_CASE("synthetic data is deterministic per seed, separated by split, and learnable", "[data]") {
  DataOptions o;
  o.name = "synthetic";
  o.synthetic_train = 300;
  o.synthetic_test = 100;
  o.seed = 42;
  stuckat::DataSplit a = stuckat::load_data(o), b = stuckat::load_data(o);
  REQUIRE(a.train.images.shape() == stuckat::Shape{300, 1, 28, 28});
  REQUIRE(a.test.images.shape() == stuckat::Shape{100, 1, 28, 28});
  CHECK(a.train.images.to_vector() == b.train.images.to_vector());
  CHECK(a.test.labels.to_dtype(stuckat::DType::F32).to_vector() ==
        b.test.labels.to_dtype(stuckat::DType::F32).to_vector());
  o.seed = 43;
  stuckat::DataSplit c = stuckat::load_data(o);
  CHECK(a.train.images.to_vector() != c.train.images.to_vector());

  // Records depend on their index only, so a limit gives a prefix of the full set.
  o.seed = 42;
  o.limit_train = 10;
  std::vector<float> full = a.train.images.to_vector();
  CHECK(stuckat::load_data(o).train.images.to_vector() == std::vector<float>(full.begin(), full.begin() + 10 * 784));

  // Learnable: a nearest-class-mean classifier fit on train labels the test split well above
  // chance (10%). Noise std 48 against prototypes ~74 grey levels apart per pixel makes it ~100%.
  const int64_t dim = 784;
  std::vector<double> means(10 * dim, 0.0);
  std::vector<int> counts(10, 0);
  const float* tx = a.train.images.data<float>();
  const int32_t* ty = a.train.labels.data<int32_t>();
  for (int64_t i = 0; i < 300; ++i) {
    REQUIRE(ty[i] >= 0);
    REQUIRE(ty[i] < 10);
    counts[ty[i]]++;
    for (int64_t k = 0; k < dim; ++k) means[ty[i] * dim + k] += tx[i * dim + k];
  }
  for (int cl = 0; cl < 10; ++cl) {
    REQUIRE(counts[cl] > 0);
    for (int64_t k = 0; k < dim; ++k) means[cl * dim + k] /= counts[cl];
  }
  int correct = 0;
  const float* sx = a.test.images.data<float>();
  for (int64_t i = 0; i < 100; ++i) {
    int best = -1;
    double best_d = 1e300;
    for (int cl = 0; cl < 10; ++cl) {
      double dist = 0;
      for (int64_t k = 0; k < dim; ++k) {
        double diff = sx[i * dim + k] - means[cl * dim + k];
        dist += diff * diff;
      }
      if (dist < best_d) best_d = dist, best = cl;
    }
    correct += best == a.test.labels.data<int32_t>()[i];
  }
  CHECK(correct >= 90);

  // Shape options apply to synthetic images too.
  o.synthetic_channels = 3;
  o.synthetic_size = 32;
  o.limit_train = 0;
  CHECK(stuckat::load_data(o).train.images.shape() == stuckat::Shape{300, 3, 32, 32});
}

TEST_CASE("bad IDX files fail with an InputError naming the file", "[data]") {
  TempDir dir;
  const std::string images = dir.file("images"), labels = dir.file("labels");

  SECTION("truncated raw: expected vs actual byte counts") {
    Bytes b = idx_images(3, 28, 28);
    b.resize(b.size() - 100);
    write_raw(images, b);
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::read_idx_images(images), images);
    // 16 header bytes + 3 * 784 = 2368 expected, 2268 present.
    REQUIRE_THROWS_WITH(stuckat::read_idx_images(images), Catch::Contains("2368") && Catch::Contains("2268"));
  }
  SECTION("truncated before gzip: decompressed length still checked") {
    Bytes b = idx_images(3, 28, 28);
    b.resize(b.size() - 1);
    write_gzip(images, b);
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::read_idx_images(images), images);
    REQUIRE_THROWS_WITH(stuckat::read_idx_images(images), Catch::Contains("2368") && Catch::Contains("2367"));
  }
  SECTION("a cut-off gzip stream") {
    write_gzip(images, idx_images(3, 28, 28));
    Bytes zipped = read_raw(images);
    zipped.resize(zipped.size() / 2);
    write_raw(images, zipped);
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::read_idx_images(images), images);
  }
  SECTION("longer than the header says") {
    Bytes b = idx_images(2, 4, 4);
    b.push_back(0);
    write_raw(images, b);
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::read_idx_images(images), images);
  }
  SECTION("wrong magic: a label file read as images, and the other way round") {
    write_raw(images, idx_images(2, 4, 4));
    write_raw(labels, idx_labels(2));
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::read_idx_images(labels), labels);
    REQUIRE_THROWS_WITH(stuckat::read_idx_images(labels), Catch::Contains("0x00000801"));
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::read_idx_labels(images), images);
  }
  SECTION("label count differs from image count") {
    write_raw(images, idx_images(3, 4, 4));
    write_raw(labels, idx_labels(2));
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::read_idx_split(images, labels), labels);
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::read_idx_split(images, labels), images);
  }
  SECTION("a label >= 10") {
    Bytes b = idx_labels(3);
    b.back() = 10;
    write_gzip(labels, b);
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::read_idx_labels(labels), labels);
    REQUIRE_THROWS_WITH(stuckat::read_idx_labels(labels), Catch::Contains("label 10"));
  }
  SECTION("a file that is not there") {
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::read_idx_images(dir.file("nope")), dir.file("nope"));
  }
  SECTION("images that are not 28x28 in a fashion-mnist directory") {
    write_idx_dir(dir, 1, 1);
    write_raw(dir.file("t10k-images-idx3-ubyte"), idx_images(1, 4, 4));
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(options_for("fashion-mnist", dir.str())),
                                   dir.file("t10k-images-idx3-ubyte"));
  }
  SECTION("a missing IDX file in the data directory") {
    write_idx_dir(dir, 1, 1);
    fs::remove(dir.file("t10k-labels-idx1-ubyte"));
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(options_for("mnist", dir.str())),
                                   dir.file("t10k-labels-idx1-ubyte"));
  }
}

TEST_CASE("bad CIFAR-10 files and options fail with an InputError naming them", "[data]") {
  TempDir dir;
  write_cifar_dir(dir.str());
  DataOptions o = options_for("cifar10", dir.str());

  SECTION("size not a multiple of 3073") {
    Bytes b = cifar_batch(0, 2);
    b.pop_back();
    write_raw(dir.file("data_batch_3.bin"), b);
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(o), dir.file("data_batch_3.bin"));
    REQUIRE_THROWS_WITH(stuckat::load_data(o), Catch::Contains("3073"));
  }
  SECTION("a label >= 10") {
    Bytes b = cifar_batch(0, 2);
    b[3073] = 200;  // label byte of the second record
    write_raw(dir.file("test_batch.bin"), b);
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(o), dir.file("test_batch.bin"));
  }
  SECTION("a missing batch") {
    fs::remove(dir.file("data_batch_5.bin"));
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(o), dir.file("data_batch_5.bin"));
  }
  SECTION("no directory given or a directory that does not exist") {
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(options_for("cifar10", "")), "--data-dir");
    REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(options_for("cifar10", dir.file("absent"))), dir.file("absent"));
  }
}

TEST_CASE("bad dataset names and options fail with an InputError", "[data]") {
  REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(options_for("imagenet", "")), "imagenet");
  REQUIRE_THROWS_WITH(stuckat::load_data(options_for("imagenet", "")),
                      Catch::Contains("fashion-mnist") && Catch::Contains("mnist") && Catch::Contains("cifar10") &&
                          Catch::Contains("synthetic"));
  REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(options_for("mnist", "")), "--data-dir");

  DataOptions o;
  o.name = "synthetic";
  o.resize = 30;
  REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(o), "--resize 30");
  o.resize = 0;
  o.channels = 2;
  REQUIRE_INPUT_ERROR_MENTIONING(stuckat::load_data(o), "--channels 2");
  o.channels = 0;
  o.limit_train = -1;
  REQUIRE_THROWS_AS(stuckat::load_data(o), InputError);
}

TEST_CASE("installed Fashion-MNIST has 60000/10000 28x28 records, 6000/1000 per class", "[data]") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::is_directory(dir)) {
    WARN("Fashion-MNIST is not installed at " << dir << "; nothing to check");
    return;
  }
  stuckat::DataSplit split = stuckat::load_data(DataOptions{});  // the default: fashion-mnist from dir
  REQUIRE(split.train.images.shape() == stuckat::Shape{60000, 1, 28, 28});
  REQUIRE(split.test.images.shape() == stuckat::Shape{10000, 1, 28, 28});
  for (auto [d, per_class] : {std::pair{&split.train, 6000}, std::pair{&split.test, 1000}}) {
    std::vector<int> counts(10, 0);
    const int32_t* lab = d->labels.data<int32_t>();
    for (int64_t i = 0; i < d->size(); ++i) {
      REQUIRE(lab[i] >= 0);
      REQUIRE(lab[i] < 10);
      counts[lab[i]]++;
    }
    for (int cl = 0; cl < 10; ++cl) CHECK(counts[cl] == per_class);
  }
  // Every value is one of the 256 normalised pixel levels, so the range is exactly that of 0..255.
  const float* px = split.test.images.data<float>();
  float lo = px[0], hi = px[0];
  for (int64_t i = 0; i < split.test.images.numel(); ++i) lo = std::min(lo, px[i]), hi = std::max(hi, px[i]);
  CHECK(lo >= normalised(0, 0.2860, 0.3530) - kNormTolerance);
  CHECK(hi <= normalised(255, 0.2860, 0.3530) + kNormTolerance);
}
