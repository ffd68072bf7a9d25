// Training diagnostics: weight histograms against hand-counted bins, the --histograms schedule
// parser, and the divergence record of train_epoch (the batch whose loss was not finite).
#include <catch2/catch.hpp>

#include <cmath>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <vector>

#include "faults/weight_histogram_png.h"
#include "base/error.h"
#include "framework/parallel.h"
#include "framework/train/trainer.h"
#include "framework/train/weight_histogram.h"
#include "models/model_zoo.h"

using namespace stuckat;

TEST_CASE("weight histogram counts by hand", "[training]") {
  // Range [-1, 1], 4 bins of width 0.5: -1 -> 0, -0.5 -> 1, 0 and 0.25 -> 2, 1 (the top) -> 3.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> w = {-1.0f, -0.5f, 0.0f, 0.25f, 1.0f, nan, -inf};
  WeightHistogram h = weight_histogram(w.data(), static_cast<int64_t>(w.size()), 4);
  CHECK(h.lo == -1.0);
  CHECK(h.hi == 1.0);
  CHECK(h.counts == std::vector<int64_t>{1, 1, 2, 1});
  CHECK(h.total == 7);
  CHECK(h.zeros == 1);
  CHECK(h.nonfinite == 2);
  CHECK(h.mean_abs == Approx((1 + 0.5 + 0 + 0.25 + 1) / 5.0));
  CHECK(histogram_csv_rows(2, -1, "conv1", h) ==
        "2,-1,conv1,0,-1,-0.5,1\n2,-1,conv1,1,-0.5,0,1\n2,-1,conv1,2,0,0.5,2\n2,-1,conv1,3,0.5,1,1\n");
  CHECK(histogram_summary_row(2, -1, "conv1", h) == "2,-1,conv1,7,1,2,-1,1,0.55\n");

  const std::vector<float> same = {0.5f, 0.5f, 0.5f};
  h = weight_histogram(same.data(), 3, 3);
  CHECK(h.counts == std::vector<int64_t>{3, 0, 0});
  h = weight_histogram(&nan, 1, 2);
  CHECK(h.counts == std::vector<int64_t>{0, 0});
  CHECK(h.nonfinite == 1);
}

TEST_CASE("--histograms schedules", "[training]") {
  HistogramSchedule s = parse_histogram_schedule("epochs=all");
  CHECK(s.at_epoch(1));
  CHECK(s.at_epoch(7));
  CHECK(!s.at_epoch(0));  // "all" means after every epoch, not the initial weights
  CHECK(!s.at_batch(0));
  s = parse_histogram_schedule("epochs=0,5,10");
  CHECK(s.at_epoch(0));
  CHECK(s.at_epoch(5));
  CHECK(!s.at_epoch(4));
  s = parse_histogram_schedule("batches=3");
  CHECK(!s.at_batch(0));
  CHECK(!s.at_batch(1));
  CHECK(s.at_batch(2));
  CHECK(s.at_batch(5));
  CHECK(!s.at_epoch(1));
  for (const char* bad : {"", "epochs", "epochs=", "epochs=1,,2", "epochs=-1", "batches=0", "batches=x", "weekly=1",
                          "epochs=1.5"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_histogram_schedule(bad), InputError);
  }
}

TEST_CASE("train_epoch stops at the first non-finite loss and says which batch", "[training]") {
  set_num_threads(2);
  DataOptions o;
  o.name = "synthetic";
  o.synthetic_train = 256;
  o.synthetic_test = 64;
  o.seed = 9;
  DataSplit data = load_data(o);
  auto model = make_model(parse_model_name("lenet5"), 1);
  Sgd opt(model->parameters(), SgdOptions{1e6f, 0.0f, 0.0f, 0.0f, false});
  int64_t callbacks = 0;
  EpochStats st = train_epoch(*model, opt, data.train, 32, 1, 0, [&](int64_t, int64_t, double) { ++callbacks; });
  REQUIRE(!st.finite);
  CHECK(st.bad_batch >= 1);  // the first forward uses the initial weights, whose loss is finite
  CHECK(st.bad_batch < 8);
  CHECK(callbacks == st.bad_batch);  // every batch before it completed its update
  CHECK(!std::isfinite(st.bad_loss));
  CHECK(st.images == 32 * st.bad_batch);
}

TEST_CASE("weight histograms are drawn as a PNG with one panel per layer", "[training]") {
  const std::vector<float> a = {-1.0f, 0.0f, 0.0f, 1.0f}, b = {0.5f};
  const std::vector<LayerHistogram> layers = {{"conv1", weight_histogram(a.data(), 4, 8)},
                                              {"fc1", weight_histogram(b.data(), 1, 8)}};
  const std::string path =
      (std::filesystem::temp_directory_path() / ("stuckat_histogram_" + std::to_string(::getpid()) + ".png")).string();
  write_weight_histogram_png("epoch 1", layers, path);
  std::ifstream in(path, std::ios::binary);
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path.c_str());
  REQUIRE(bytes.size() > 33);
  const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  CHECK(std::equal(signature, signature + 8, bytes.begin()));
  auto be32 = [&](size_t at) { return (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]; };
  CHECK(be32(16) == 720);                  // IHDR width
  CHECK(be32(20) == 40 + 2 * (130 + 30) + 10);  // title + two panels with their gaps + bottom margin
}
