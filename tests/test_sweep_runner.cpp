// Whole sweeps: each row equals the plain reference (inject the faults into the whole model,
// evaluate()), whatever the waves, shards, threads or configurations per pass; model copies and
// the GPU give the CPU's rows; the run-ahead thread and the warm-up.
#include "sweep_test_fixtures.h"

using namespace stuckat;
using namespace stuckat::sweep;
using namespace stuckat::sweep::test;

TEST_CASE("each sweep row equals the reference: faults injected into the model, then evaluate()", "[faults][sweep]") {
  // Rates from 0.002 (a few weights: the runner recomputes only the changed channels and
  // pushes their difference through the next layer) to 0.3 (most channels: the whole output).
  // Activation caps (per test batch on the CPU): everything kept; only the three deepest stages
  // (fc1, fc2, fc3: 52 KB at 16 images; the points of conv1 and conv2 then run from the images);
  // nothing but the images.
  const std::string name = GENERATE(as<std::string>{}, "lenet5", "lenet5_bn");
  const int64_t cap = GENERATE(int64_t(2) << 30, int64_t(60000), int64_t(0));
  const Dataset d = random_test_set(40);
  std::shared_ptr<Module> model = sweep_test_model(name, 5);
  const std::vector<float> before = model->named_parameters()[0].second.to_vector();
  SweepGrid g = small_grid();
  g.layers = {"conv1", "conv2", "fc1", "fc2", "fc3"};
  g.bits = {14};
  g.rates = {0.002, 0.05, 0.3};
  g.seeds = {3};
  std::vector<SweepRow> rows;
  SweepRunOptions o;
  o.batch = 16;  // 40 images: batches of 16, 16, 8
  o.configs_per_pass = 3;
  o.prefix_cache_bytes = cap;
  run_sweep(*model, name, d, g, all_points(g), o, [&](const SweepRow& r) { rows.push_back(r); });
  REQUIRE(static_cast<int64_t>(rows.size()) == g.size());
  CHECK(model->named_parameters()[0].second.to_vector() == before);  // the runner restores the weights
  check_rows_against_reference(rows, name, 5, d);
  // A fault at rate 0.3 on bit 14 of fc1 changes some weights.
  auto it = std::find_if(rows.begin(), rows.end(), [](const SweepRow& r) {
    return r.point.layer == "fc1" && r.point.rate == 0.3 && r.point.format == "q4.11";
  });
  REQUIRE(it != rows.end());
  CHECK(it->faulty_weights > 0);
}

TEST_CASE("CPU sweep rows do not depend on how the points are split into waves", "[faults][sweep]") {
  // Waves of one point, of 5 points (cutting through layers and formats), ended by the plan-byte
  // limit after every point, of the 8 points a tiny time budget leaves, and all points in one
  // wave: the same rows, bit for bit, in order.
  const Dataset d = random_test_set(40);
  std::shared_ptr<Module> model = sweep_test_model("lenet5", 5);
  SweepGrid g = small_grid();
  g.layers = {"conv1", "conv2", "fc1", "fc3"};
  g.bits = {11, 15};
  g.rates = {0.05, 0.3};
  g.seeds = {3};
  auto rows_with = [&](int64_t wave, int64_t plan_bytes, double seconds = 60) {
    std::vector<SweepRow> rows;
    SweepRunOptions o;
    o.batch = 16;
    o.wave_points = wave;
    o.chunk_bytes = plan_bytes;
    o.wave_seconds = seconds;
    run_sweep(*model, "lenet5", d, g, all_points(g), o, [&](const SweepRow& r) { rows.push_back(r); });
    return rows;
  };
  const std::vector<SweepRow> all = rows_with(1 << 20, int64_t(1) << 30);
  REQUIRE(static_cast<int64_t>(all.size()) == g.size());
  struct Split {
    int64_t wave, bytes;
    double seconds;
  };
  for (const auto& [wave, bytes, seconds] :
       std::vector<Split>{{1, 1 << 30, 60}, {5, 1 << 30, 60}, {1 << 20, 1, 60}, {1 << 20, 1 << 30, 1e-12}}) {
    const std::vector<SweepRow> rows = rows_with(wave, bytes, seconds);
    REQUIRE(rows.size() == all.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      INFO("wave " << wave << ", plan bytes " << bytes << ", row " << i);
      CHECK(rows[i].point.layer == all[i].point.layer);
      CHECK(rows[i].point.format == all[i].point.format);
      CHECK(rows[i].faulty_weights == all[i].faulty_weights);
      CHECK(std::memcmp(&rows[i].test_loss, &all[i].test_loss, sizeof(double)) == 0);
      CHECK(rows[i].test_acc == all[i].test_acc);
    }
  }
  check_rows_against_reference(all, "lenet5", 5, d);
}

TEST_CASE("a sweep of the deep layers only keeps no activations before them, rows still the reference", "[faults][sweep]") {
  // Points on conv2, fc1 and fc3 only: the clean pass keeps nothing of conv1's stage; the rows
  // must still equal faults injected into the model and evaluate().
  const std::string name = GENERATE(as<std::string>{}, "lenet5", "lenet5_bn");
  const Dataset d = random_test_set(40);
  std::shared_ptr<Module> model = sweep_test_model(name, 5);
  SweepGrid g = small_grid();
  g.layers = {"conv2", "fc1", "fc3"};
  g.bits = {14};
  g.rates = {0.05, 0.3};
  g.seeds = {3};
  std::vector<SweepRow> rows;
  SweepRunOptions o;
  o.batch = 16;
  o.configs_per_pass = 3;
  run_sweep(*model, name, d, g, all_points(g), o, [&](const SweepRow& r) { rows.push_back(r); });
  REQUIRE(static_cast<int64_t>(rows.size()) == g.size());
  check_rows_against_reference(rows, name, 5, d);
}

TEST_CASE("ResNet-18 sweep rows equal the reference (block stages, stem and fc layer stages)", "[faults][sweep]") {
  // Points in the stem (a layer stage: delta path), inside residual blocks (stages that list
  // several layers and run whole: the faulted weights are swapped in) and in fc.
  const Dataset d = resnet_test_set();
  std::shared_ptr<Module> model = sweep_test_model("resnet18", 6);
  SweepGrid g;
  g.formats = {"q4.11"};
  g.layers = {"conv1", "layer2.0.conv2", "layer2.0.shortcut.0", "layer4.1.conv1", "fc"};
  g.bits = {13};
  g.stuck = {1};
  g.rates = {0.05};
  g.seeds = {1};
  std::vector<SweepRow> rows;
  SweepRunOptions o;
  o.batch = 4;
  run_sweep(*model, "resnet18", d, g, all_points(g), o, [&](const SweepRow& r) { rows.push_back(r); });
  REQUIRE(static_cast<int64_t>(rows.size()) == g.size());
  check_rows_against_reference(rows, "resnet18", 6, d);
}

TEST_CASE("a sweep through a model copy (the --device path, here on the CPU) equals the reference", "[faults][sweep]") {
  // The path `sweep --device cuda` takes, with the copy on the CPU: faulted weights drawn and
  // decoded from the layer's words (fault_layer), points of a split stage stacked along the batch
  // (3 or 10 per pass; a 1-byte pass budget forces one; variant 0 in chunks of 3 points), points
  // that changed few channels on the channel path (variant 3: through the fused ReLU / max-pool
  // pass the GPU takes), ResNet block stages one point at a time. Rows must equal the reference and carry the CPU path's fault counts.
  const std::string name = GENERATE(as<std::string>{}, "lenet5", "lenet5_bn", "resnet18");
  const int variant = GENERATE(0, 1, 2, 3);  // 3 per pass; 10 per pass; a budget that forces one; 3 per pass, fused
  const bool resnet = name == "resnet18";
  if (resnet && variant > 0) return;  // ResNet-18 on the CPU is slow: one variant
  const int64_t configs = variant == 1 ? 10 : 3;
  const int64_t pass_bytes = variant == 2 ? 1 : int64_t(4) << 30;
  CAPTURE(name, configs, pass_bytes);
  const Dataset d = resnet ? resnet_test_set() : random_test_set(40);
  std::shared_ptr<Module> model = sweep_test_model(name, 5), copy = sweep_test_model(name, 5);
  SweepGrid g = small_grid();
  g.layers = resnet ? std::vector<std::string>{"conv1", "layer2.0.conv2", "fc"}
                    : std::vector<std::string>{"conv1", "conv2", "fc1", "fc3"};
  g.bits = resnet ? std::vector<int>{14} : std::vector<int>{3, 14};
  g.rates = resnet ? std::vector<double>{0.05} : std::vector<double>{0.002, 0.05, 0.3};
  g.seeds = {3};
  if (resnet) g.formats = {"q4.11"};
  SweepRunOptions o;
  o.batch = resnet ? 4 : 16;
  o.configs_per_pass = configs;
  std::vector<SweepRow> plain, via_copy;
  // rows_done (where the CLI flushes the CSV) follows each group of rows: record the rows out by
  // then. Every group is non-empty and the last call follows the last row.
  std::vector<size_t> done_at;
  o.rows_done = [&] { done_at.push_back(plain.size() + via_copy.size()); };
  auto check_groups = [&](size_t rows, size_t at_least) {
    CAPTURE(done_at);
    REQUIRE(done_at.size() >= at_least);
    for (size_t i = 1; i < done_at.size(); ++i) CHECK(done_at[i] > done_at[i - 1]);
    CHECK(done_at.back() == rows);
    done_at.clear();
  };
  run_sweep(*model, name, d, g, all_points(g), o, [&](const SweepRow& r) { plain.push_back(r); });
  check_groups(plain.size(), g.formats.size());  // a wave per format at least
  o.device_model = copy.get();
  o.pass_bytes = pass_bytes;
  o.fused_channel_delta_on_cpu = variant == 3;  // the GPU's fused channel pass (LeNet-5's stages)
  if (variant == 0) o.chunk_bytes = 1;  // chunks of 3 points: a layer's chunks pipelined one after another
  run_sweep(*model, name, d, g, all_points(g), o, [&](const SweepRow& r) { via_copy.push_back(r); });
  check_groups(plain.size() + via_copy.size(), variant == 0 ? g.layers.size() : 1);  // an epoch per chunk there
  REQUIRE(via_copy.size() == plain.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    INFO("point " << plain[i].point.index << " " << plain[i].point.layer);
    CHECK(via_copy[i].point.index == plain[i].point.index);
    CHECK(via_copy[i].faulty_weights == plain[i].faulty_weights);
    CHECK(via_copy[i].changed_weights == plain[i].changed_weights);
  }
  check_rows_against_reference(via_copy, name, 5, d);
  // The copy holds its original weights again.
  const std::shared_ptr<Module> fresh = sweep_test_model(name, 5);
  const auto a = fresh->named_parameters(), b = copy->named_parameters();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].second.to_vector() == b[i].second.to_vector());
}

TEST_CASE("a sweep on the GPU gives the CPU sweep's rows", "[faults][sweep][cuda]") {
  if (!have_gpu("sweep --device cuda")) return;
  // Same points; on the GPU the faulted weights are drawn and decoded there, a layer's points
  // share stacked passes, and (with channel_path_min_macs 0) points that changed few channels
  // take the channel path: the fused kernel after LeNet-5's layers, the composed chain (batch
  // norm on the selected channels) after LeNet-5-BN's. The fault counts must be identical; accuracy may differ by one image per point (a near tie
  // between two logits can resolve either way under a different summation order: cuBLAS vs our
  // CPU GEMM), the mean loss by 1e-4 relative (float32 sums over <= 400 products per output,
  // then softmax and a mean over 40 images; observed differences are ~1e-6).
  const std::string name = GENERATE(as<std::string>{}, "lenet5", "lenet5_bn", "resnet18");
  // Chunks of 3 points, one epoch each (several epochs in turn), or a layer's points per chunk
  // and every chunk in one epoch.
  const bool small_chunks = GENERATE(true, false);
  CAPTURE(name, small_chunks);
  const bool resnet = name == "resnet18";
  const Dataset d = resnet ? resnet_test_set() : random_test_set(40);
  std::shared_ptr<Module> cpu_model = sweep_test_model(name, 5);
  std::shared_ptr<Module> gpu_model = sweep_test_model(name, 5);
  gpu_model->to(Device::CUDA);
  SweepGrid g = small_grid();
  g.layers = resnet ? std::vector<std::string>{"conv1", "layer2.0.conv2", "layer4.1.conv1", "fc"}
                    : std::vector<std::string>{"conv1", "conv2", "fc1", "fc3"};
  g.bits = {14};
  g.rates = {0.002, 0.05, 0.3};
  g.seeds = {3};
  std::vector<SweepRow> on_cpu, on_gpu;
  SweepRunOptions o;
  o.batch = 16;
  o.configs_per_pass = 3;
  o.channel_path_min_macs = 0;  // 16-image batches are far below the default: take the channel path anyway
  if (small_chunks) o.chunk_bytes = 1;  // chunks of 3 points: several per layer in the pipeline
  run_sweep(*cpu_model, name, d, g, all_points(g), o, [&](const SweepRow& r) { on_cpu.push_back(r); });
  o.device_model = gpu_model.get();
  run_sweep(*cpu_model, name, d, g, all_points(g), o, [&](const SweepRow& r) { on_gpu.push_back(r); });
  REQUIRE(on_cpu.size() == on_gpu.size());
  const double n = static_cast<double>(d.size());
  for (size_t i = 0; i < on_cpu.size(); ++i) {
    INFO("point " << on_cpu[i].point.index << " layer " << on_cpu[i].point.layer << " rate " << on_cpu[i].point.rate);
    CHECK(on_gpu[i].point.index == on_cpu[i].point.index);
    CHECK(on_gpu[i].faulty_weights == on_cpu[i].faulty_weights);
    CHECK(on_gpu[i].changed_weights == on_cpu[i].changed_weights);
    CHECK(on_gpu[i].nan == on_cpu[i].nan);
    CHECK(std::fabs(on_gpu[i].test_acc - on_cpu[i].test_acc) * n <= 1.0 + 1e-9);
    if (!on_cpu[i].nan) CHECK(std::fabs(on_gpu[i].test_loss - on_cpu[i].test_loss) <= 1e-4 * std::fabs(on_cpu[i].test_loss) + 1e-6);
  }
  // The GPU model holds its original weights again.
  const std::shared_ptr<Module> fresh = sweep_test_model(name, 5);
  const auto a = fresh->named_parameters(), b = gpu_model->named_parameters();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].second.to_vector() == b[i].second.to(Device::CPU).to_vector());
}

TEST_CASE("sweep rows do not depend on shards, threads or configurations per pass", "[faults][sweep]") {
  const Dataset d = random_test_set(24);
  std::shared_ptr<Module> model = make_model(parse_model_name("lenet5"), 9);
  SweepGrid g = small_grid();
  g.bits = {15};
  const std::string full = temp_path("full.csv");
  std::filesystem::remove(full);
  run_into(full, false, all_points(g), *model, d, g);
  const std::string full_text = read_text(full);

  // Three shards, each in its own file with one thread, then merged by index.
  const int saved_threads = num_threads();
  set_num_threads(1);
  std::vector<std::string> merged_lines;
  std::set<int64_t> indices;
  for (int64_t i = 0; i < 3; ++i) {
    const std::string path = temp_path("shard" + std::to_string(i) + ".csv");
    std::filesystem::remove(path);
    std::vector<int64_t> mine;
    for (int64_t p = 0; p < g.size(); ++p)
      if (SweepShard{i, 3}.owns(p)) mine.push_back(p);
    run_into(path, false, mine, *model, d, g, 16, 1 + i);
    for (const SweepRow& r : read_sweep_csv(path).rows) {
      CHECK(indices.insert(r.point.index).second);  // no duplicates across shards
      merged_lines.push_back(format_sweep_row(r));
    }
    std::filesystem::remove(path);
  }
  set_num_threads(saved_threads);
  CHECK(static_cast<int64_t>(indices.size()) == g.size());
  std::sort(merged_lines.begin(), merged_lines.end(), [](const std::string& a, const std::string& b) {
    return std::stoll(a) < std::stoll(b);
  });
  std::string merged = std::string(kSweepCsvHeader) + "\n";
  for (const std::string& l : merged_lines) merged += l + "\n";
  CHECK(merged == full_text);
  std::filesystem::remove(full);
}

TEST_CASE("RunAhead runs the steps in order on its own thread and hands each over once done", "[sweep][threads]") {
  const int saved = num_threads();
  set_num_threads(1);
  const std::thread::id caller = std::this_thread::get_id();
  const size_t n = 50;
  std::vector<int64_t> results(n, -1);
  std::vector<size_t> order;  // written by the worker only, read after the last ready()
  std::atomic<int> other_thread{0}, one_omp_thread{0};
  {
    RunAhead ahead(0, n, [&](size_t k) {
      results[k] = static_cast<int64_t>(k * k);
      order.push_back(k);
      if (std::this_thread::get_id() != caller) ++other_thread;
      if (omp_get_max_threads() == 1) ++one_omp_thread;  // the caller's OpenMP setting
    });
    for (size_t k = 0; k < n; ++k) {
      ahead.ready(k);
      CHECK(results[k] == static_cast<int64_t>(k * k));
    }
  }
  set_num_threads(saved);
  REQUIRE(order.size() == n);
  for (size_t k = 0; k < n; ++k) CHECK(order[k] == k);
  CHECK(other_thread.load() == static_cast<int>(n));
  CHECK(one_omp_thread.load() == static_cast<int>(n));
}

TEST_CASE("RunAhead rethrows a step's error at that step and stops; destroying it early stops it", "[sweep][threads]") {
  std::atomic<int> ran{0};
  {
    RunAhead ahead(10, 20, [&](size_t k) {
      if (k == 13) throw Error("step 13 failed");
      ++ran;
    });
    for (size_t k = 10; k < 13; ++k) CHECK_NOTHROW(ahead.ready(k));
    CHECK_THROWS_WITH(ahead.ready(13), Catch::Contains("step 13 failed"));
    CHECK_THROWS_WITH(ahead.ready(17), Catch::Contains("step 13 failed"));
    CHECK_THROWS_WITH(ahead.ready(20), Catch::Contains("past its last step"));  // not a step of this RunAhead
  }
  CHECK(ran.load() == 3);  // 10, 11, 12; nothing after the failure

  std::atomic<int> started{0};
  {
    RunAhead ahead(0, 100000, [&](size_t) {
      ++started;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    ahead.ready(0);
  }  // stops after the step in progress
  CHECK(started.load() >= 1);
  CHECK(started.load() < 100000);
}

TEST_CASE("The sweep's warm-up stacks as many batches as its passes stack points", "[sweep]") {
  // LeNet-5 at batch 16: the largest tensor is conv1's output (padding 2), 16 x 6 x 28 x 28 floats
  // (301056 bytes; the input is 50176), and a pass of P points holds about twice P of those.
  const Dataset d = random_test_set(40);
  std::shared_ptr<Module> copy = sweep_test_model("lenet5", 5);
  copy->train(true);
  SweepRunOptions o;
  o.batch = 16;
  o.configs_per_pass = 10;
  CHECK_THROWS_WITH(warm_up_sweep(d, o), Catch::Contains("no model copy"));
  o.device_model = copy.get();
  CHECK(warm_up_sweep(d, o) == 10);  // 4 GiB of pass memory: configs_per_pass
  o.pass_bytes = 2 * 301056 * 3 + 5;
  CHECK(warm_up_sweep(d, o) == 3);
  o.pass_bytes = 2 * 301056 * 3 - 1;
  CHECK(warm_up_sweep(d, o) == 2);
  o.pass_bytes = 1;
  CHECK(warm_up_sweep(d, o) == 1);
  CHECK(copy->is_training());  // left in the mode it had
}

TEST_CASE("The sweep's warm-up on a GPU copy loads its kernels and stacks as on the CPU", "[faults][sweep][cuda]") {
  if (!have_gpu("warm_up_sweep")) return;
  Dataset d = random_test_set(40);
  d.to_device(Device::CUDA);
  std::shared_ptr<Module> copy = sweep_test_model("lenet5", 5);
  copy->to(Device::CUDA);
  copy->train(true);
  SweepRunOptions o;
  o.batch = 16;
  o.configs_per_pass = 10;
  o.device_model = copy.get();
  CHECK(warm_up_sweep(d, o) == 10);  // preload_sweep_kernels ran first (a kernel it cannot load throws)
  o.pass_bytes = 2 * 301056 * 3 + 5;  // as in the CPU test: conv1's output at batch 16 is 301056 bytes
  CHECK(warm_up_sweep(d, o) == 3);
  CHECK(copy->is_training());  // left in the mode it had
}
