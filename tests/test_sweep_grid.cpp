// Sweep grids and files: grid order and flag parsing, shards that partition the grid exactly, a
// CSV that survives a kill (partial last line) and resumes to the same bytes as an uninterrupted
// run, the summary over seeds, an empty test set refused, and charts whose lines stay apart.
#include "sweep_test_fixtures.h"

#include <functional>
#include <tuple>

#include "base/limits.h"
#include "sweep/sweep_plot.h"

using namespace stuckat;
using namespace stuckat::sweep;
using namespace stuckat::sweep::test;

TEST_CASE("sweep grid enumerates formats, a baseline each, then layer/bit/stuck/rate/seed", "[faults][sweep]") {
  SweepGrid g = small_grid();
  REQUIRE(g.points_per_format() == 1 + 4 * 3 * 2 * 2 * 2);
  REQUIRE(g.size() == 2 * g.points_per_format());
  SweepPoint p0 = sweep_point(g, 0);
  CHECK((p0.baseline && p0.format == "q4.11"));
  SweepPoint p1 = sweep_point(g, 1), p2 = sweep_point(g, 2), p3 = sweep_point(g, 3);
  CHECK((p1.layer == "conv1" && p1.bit == 4 && p1.stuck == 0 && p1.rate == 0.05 && p1.seed == 0));
  CHECK((p2.seed == 7 && p2.rate == 0.05));  // seed varies fastest
  CHECK((p3.seed == 0 && p3.rate == 0.3));
  SweepPoint last = sweep_point(g, g.size() - 1);
  CHECK((last.format == "fp16" && last.layer == "fc3" && last.bit == 15 && last.stuck == 1 && last.rate == 0.3 &&
         last.seed == 7));
  CHECK(sweep_point(g, g.points_per_format()).baseline);
  // Every (format, layer, bit, stuck, rate, seed) appears exactly once.
  std::set<std::string> seen;
  for (int64_t i = 0; i < g.size(); ++i) {
    SweepPoint p = sweep_point(g, i);
    seen.insert(p.format + "/" + p.layer + "/" + std::to_string(p.bit) + "/" + std::to_string(p.stuck) + "/" +
                std::to_string(p.rate) + "/" + std::to_string(p.seed) + (p.baseline ? "b" : ""));
  }
  CHECK(static_cast<int64_t>(seen.size()) == g.size());
}

TEST_CASE("sweep list flags parse ranges and reject bad values", "[faults][sweep]") {
  CHECK(parse_int_list("0-3,7", "--bits", 0, 15) == std::vector<int64_t>{0, 1, 2, 3, 7});
  CHECK(parse_int_list("15", "--bits", 0, 15) == std::vector<int64_t>{15});
  CHECK_THROWS_AS(parse_int_list("16", "--bits", 0, 15), InputError);
  CHECK_THROWS_AS(parse_int_list("3-1", "--bits", 0, 15), InputError);
  CHECK_THROWS_AS(parse_int_list("1,1", "--bits", 0, 15), InputError);
  CHECK_THROWS_AS(parse_int_list("a", "--bits", 0, 15), InputError);
  CHECK(parse_rate_list("0.01,0.05", "--rates") == std::vector<double>{0.01, 0.05});
  CHECK_THROWS_AS(parse_rate_list("0", "--rates"), InputError);
  CHECK_THROWS_AS(parse_rate_list("1.5", "--rates"), InputError);
  const std::vector<std::string> valid{"conv1", "conv2", "fc1"};
  CHECK(parse_layer_list("all", valid) == valid);
  CHECK(parse_layer_list("fc1,conv1", valid) == std::vector<std::string>{"conv1", "fc1"});
  CHECK_THROWS_AS(parse_layer_list("fc9", valid), InputError);
  SweepShard s = parse_sweep_shard("2/5");
  CHECK((s.index == 2 && s.count == 5));
  CHECK_THROWS_AS(parse_sweep_shard("5/5"), InputError);
  CHECK_THROWS_AS(parse_sweep_shard("1"), InputError);
}

TEST_CASE("shards partition the grid: union = all points, no duplicates", "[faults][sweep]") {
  const SweepGrid g = small_grid();
  for (int64_t n : {1, 2, 3, 7, 200}) {
    std::vector<int> owners(static_cast<size_t>(g.size()), 0);
    for (int64_t i = 0; i < n; ++i) {
      SweepShard s{i, n};
      for (int64_t p = 0; p < g.size(); ++p) owners[static_cast<size_t>(p)] += s.owns(p) ? 1 : 0;
    }
    CHECK(std::all_of(owners.begin(), owners.end(), [](int c) { return c == 1; }));
  }
}
TEST_CASE("a killed sweep resumed gives the same CSV as an uninterrupted one", "[faults][sweep]") {
  const Dataset d = random_test_set(24);
  std::shared_ptr<Module> model = make_model(parse_model_name("lenet5"), 4);
  SweepGrid g = small_grid();
  g.bits = {14};
  g.formats = {"q4.11"};
  const std::string full = temp_path("uninterrupted.csv"), part = temp_path("killed.csv");
  std::filesystem::remove(full);
  std::filesystem::remove(part);
  run_into(full, false, all_points(g), *model, d, g);

  // The first run dies after 11 points while writing the 12th row (a partial line is left).
  const std::vector<int64_t> every = all_points(g);
  const std::vector<int64_t> first(every.begin(), every.begin() + 11);
  run_into(part, false, first, *model, d, g);
  {
    std::ofstream out(part, std::ios::app | std::ios::binary);
    out << "11,lenet5,conv1,14,0,0.";
  }
  CHECK_THROWS_AS(SweepCsvWriter(part, false), InputError);  // no silent overwrite without --resume
  std::vector<int64_t> rest;
  {
    SweepCsvWriter w(part, true);
    std::set<int64_t> done;
    for (const SweepRow& r : w.existing_rows()) done.insert(r.point.index);
    CHECK(done.size() == 11);
    for (int64_t p : every)
      if (!done.count(p)) rest.push_back(p);
  }
  run_into(part, true, rest, *model, d, g);
  CHECK(read_text(part) == read_text(full));
  std::filesystem::remove(full);
  std::filesystem::remove(part);
}

TEST_CASE("sweep CSV rows read back equal, and the summary averages over seeds", "[faults][sweep]") {
  SweepRow a;
  a.model = "lenet5";
  a.point = SweepPoint{5, "q4.11", false, "fc1", 15, 1, 0.01, 3};
  a.faulty_weights = 480, a.changed_weights = 200, a.test_acc = 0.5, a.test_loss = 1.25;
  SweepRow b = a;
  b.point.index = 6, b.point.seed = 4, b.test_acc = 0.7;
  SweepRow base;
  base.model = "lenet5";
  base.point.index = 0, base.point.format = "q4.11", base.point.baseline = true, base.test_acc = 0.9;
  const std::string path = temp_path("roundtrip.csv");
  std::filesystem::remove(path);
  {
    SweepCsvWriter w(path, false);
    for (const SweepRow& r : {base, a, b}) w.append(r);
  }
  const std::vector<SweepRow> rows = read_sweep_csv(path).rows;
  REQUIRE(rows.size() == 3);
  CHECK(format_sweep_row(rows[1]) == format_sweep_row(a));
  CHECK(sweep_row_matches(rows[1], a.point, "lenet5"));
  CHECK_FALSE(sweep_row_matches(rows[1], b.point, "lenet5"));
  CHECK(rows[0].point.baseline);
  const std::vector<SweepSummaryLine> lines = summarize_sweep(rows);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].seeds == 2);
  CHECK(lines[1].acc_mean == Approx(0.6));
  CHECK(lines[1].acc_std == Approx(std::sqrt(0.02)));  // sample std of {0.5, 0.7}
  std::filesystem::remove(path);
}

TEST_CASE("a chart's series look different up to 40 series (colour, dashes, thickness)", "[sweep]") {
  // VGG11 has 11 weight layers, VGG19 19, ResNet-18 21: a palette of ten alone repeated itself.
  std::set<std::tuple<uint8_t, uint8_t, uint8_t, bool, int>> seen;
  for (size_t s = 0; s < 40; ++s) {
    const SeriesStyle st = series_style(s);
    INFO(s);
    CHECK(seen.insert({st.colour.r, st.colour.g, st.colour.b, st.dashed, st.thickness}).second);
  }
  CHECK(series_style(0).colour.r == series_style(10).colour.r);  // same colour, told apart by dashes
  CHECK(series_style(10).dashed);
  CHECK_FALSE(series_style(0).dashed);
}

TEST_CASE("list flags are counted before they expand: a range past the cap is refused at once", "[sweep]") {
  // 10^12 values would take minutes and terabytes to expand; the count refuses it first.
  CHECK_THROWS_WITH(parse_int_list("0-999999999999", "--seeds", 0, int64_t(1) << 62),
                    Catch::Contains("--seeds") && Catch::Contains("more than"));
  const std::vector<int64_t> at_cap = parse_int_list(fmt::format("1-{}", limits::kMaxListValues), "--seeds", 0, 1 << 30);
  CHECK(static_cast<int64_t>(at_cap.size()) == limits::kMaxListValues);
  CHECK(at_cap.back() == limits::kMaxListValues);
  CHECK_THROWS_AS(parse_int_list(fmt::format("0-{}", limits::kMaxListValues), "--seeds", 0, 1 << 30), InputError);
  CHECK_THROWS_AS(parse_int_list("5,0-9", "--seeds", 0, 100), InputError);  // 5 twice, across parts
}

TEST_CASE("a sweep CSV row with values no sweep writes is refused with its line", "[sweep]") {
  SweepRow good;
  good.model = "lenet5";
  good.point.index = 1, good.point.format = "q4.11", good.point.layer = "conv1", good.point.bit = 15;
  good.point.stuck = 1, good.point.rate = 0.01, good.point.seed = 0;
  good.faulty_weights = 2, good.changed_weights = 1, good.test_acc = 0.5, good.test_loss = 1.5;
  SweepRow diverged = good;  // a NaN loss is a real outcome when its flag says so
  diverged.point.index = 2, diverged.test_loss = NAN, diverged.nan = true;
  auto write = [](const std::string& path, const std::vector<std::string>& lines) {
    std::ofstream out(path, std::ios::binary);
    out << kSweepCsvHeader << "\n";
    for (const std::string& l : lines) out << l << "\n";
  };
  const std::string path = temp_path("edited.csv");
  write(path, {format_sweep_row(good), format_sweep_row(diverged)});
  CHECK(read_sweep_csv(path).rows.size() == 2);
  for (auto edit : std::vector<std::function<void(SweepRow&)>>{
           [](SweepRow& r) { r.test_acc = NAN; }, [](SweepRow& r) { r.test_acc = 1.5; },
           [](SweepRow& r) { r.test_loss = -1; }, [](SweepRow& r) { r.test_loss = NAN; },
           [](SweepRow& r) { r.changed_weights = 3; }, [](SweepRow& r) { r.point.bit = 16; },
           [](SweepRow& r) { r.point.rate = 0; }}) {
    SweepRow bad = good;
    edit(bad);
    write(path, {format_sweep_row(good), format_sweep_row(bad)});
    CHECK_THROWS_WITH(read_sweep_csv(path), Catch::Contains("line 3"));
  }
  std::filesystem::remove(path);
}

TEST_CASE("a sweep over a test set without images is refused with the set's name", "[faults][sweep]") {
  std::shared_ptr<Module> model = sweep_test_model("lenet5", 5);
  Dataset empty = random_test_set(4);
  empty.name = "four-images-less-four";
  empty.images = Tensor();
  empty.labels = Tensor();
  const SweepGrid g = small_grid();
  SweepRunOptions o;
  CHECK_THROWS_WITH(run_sweep(*model, "lenet5", empty, g, all_points(g), o, [](const SweepRow&) {}),
                    Catch::Contains("four-images-less-four") && Catch::Contains("no images"));
}
