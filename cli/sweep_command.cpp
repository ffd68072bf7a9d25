// `stuckat sweep`: evaluates a checkpoint under a grid of stuck-at faults (layer x bit x stuck
// value x rate x seed x format, plus each format's clean baseline), streaming one CSV row per
// point, resumable (--resume) and splittable into shards (--shard i/n); prints a summary table.
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"
#include "cli/data_flags.h"
#include "faults/faulty_model.h"
#include "faults/sweep_csv.h"
#include "faults/sweep_grid.h"
#include "faults/sweep_runner.h"
#include "faults/sweep_summary.h"
#include "faults/sweep_warm_up.h"
#include "faults/weight_format.h"
#include "framework/error.h"
#include "framework/io/checkpoint.h"
#include "framework/train/trainer.h"
#include "models/model_zoo.h"

namespace stuckat::cli {
namespace {

struct SweepFlags {
  DataFlags common;
  std::string checkpoint, model, out;
  std::string layers = "all", bits = "0-15", stuck = "0,1", rates = "0.01", seeds = "0", formats = "q4.11";
  std::string shard = "0/1";
  bool resume = false;
  int64_t batch = 1000, configs_per_pass = 10, max_points = 0;
  double cache_gb = 2.0;
  double pass_gb = 4.0;
};

int run(SweepFlags& f) {
  // A sweep allocates and frees the same activation sizes (MBs each) thousands of times. glibc
  // serves such blocks with mmap and returns them on free, so every reuse page-faults them in
  // again; keeping them in the heap instead made LeNet-5 conv1 points ~1.5x faster.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  const Device device = apply_runtime_flags(f.common);
  if (f.batch < 1) throw_input_error("--batch must be >= 1, got {}", f.batch);
  if (f.configs_per_pass < 1) throw_input_error("--configs-per-pass must be >= 1, got {}", f.configs_per_pass);
  if (f.max_points < 0) throw_input_error("--max-points must be >= 0 (0: no limit), got {}", f.max_points);
  if (!(f.cache_gb >= 0 && f.cache_gb <= 1e6)) throw_input_error("--cache-gb must be in [0, 1e6], got {}", f.cache_gb);
  if (!(f.pass_gb > 0 && f.pass_gb <= 1e6)) throw_input_error("--pass-gb must be in (0, 1e6], got {}", f.pass_gb);
  const SweepShard shard = parse_sweep_shard(f.shard);

  std::string model_name = f.model;
  if (model_name.empty()) {
    const auto meta = read_checkpoint_metadata(f.checkpoint);
    auto it = meta.find("model");
    if (it == meta.end()) throw_input_error("checkpoint {} does not record its model; pass --model", f.checkpoint);
    model_name = it->second;
  }
  const ModelSpec spec = parse_model_name(model_name);
  std::shared_ptr<Module> model = make_model(spec, 0);
  load_checkpoint(f.checkpoint, *model, spec.name());
  // --device cuda: forward passes run on a GPU copy; the CPU model builds the faulted weights.
  std::shared_ptr<Module> device_model;
  if (device != Device::CPU) {
    device_model = make_model(spec, 0);
    load_checkpoint(f.checkpoint, *device_model, spec.name());
    device_model->to(device);
  }

  SweepGrid grid;
  {
    std::string text = f.formats;
    size_t start = 0;
    while (true) {
      const size_t comma = text.find(',', start);
      const WeightFormat fmt = parse_weight_format(text.substr(start, comma == std::string::npos ? comma : comma - start), "--formats");
      if (fmt.is_none()) throw_input_error("--formats: none has no 16-bit words to fault; use e.g. q4.11, maxabs or fp16");
      const std::string name = weight_format_name(fmt);
      for (const std::string& seen : grid.formats)
        if (seen == name) throw_input_error("--formats lists {} twice", name);
      grid.formats.push_back(name);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  grid.layers = parse_layer_list(f.layers, faultable_layer_names(*model));
  for (int64_t b : parse_int_list(f.bits, "--bits", 0, 15)) grid.bits.push_back(static_cast<int>(b));
  for (int64_t s : parse_int_list(f.stuck, "--stuck", 0, 1)) grid.stuck.push_back(static_cast<int>(s));
  grid.rates = parse_rate_list(f.rates, "--rates");
  for (int64_t s : parse_int_list(f.seeds, "--seeds", 0, int64_t(1) << 62)) grid.seeds.push_back(static_cast<uint64_t>(s));

  SweepCsvWriter writer(f.out, f.resume);
  std::vector<bool> done(static_cast<size_t>(grid.size()), false);
  for (const SweepRow& row : writer.existing_rows()) {
    const int64_t i = row.point.index;
    if (i < 0 || i >= grid.size() || !sweep_row_matches(row, sweep_point(grid, i), spec.name()))
      throw_input_error("--resume: {} holds point {} of another sweep (different model or grid); use another --out", f.out,
                        i);
    done[static_cast<size_t>(i)] = true;
  }
  std::vector<int64_t> todo;
  for (int64_t i = 0; i < grid.size(); ++i)
    if (shard.owns(i) && !done[static_cast<size_t>(i)]) todo.push_back(i);
  const size_t skipped = writer.existing_rows().size();
  if (f.max_points > 0 && static_cast<int64_t>(todo.size()) > f.max_points) todo.resize(static_cast<size_t>(f.max_points));

  DataOptions data_options = f.common.data;
  data_options.test_only = true;  // the sweep reads only the test split
  DataSplit data = load_data(data_options);
  const Tensor& im = data.test.images;
  check_model_input(spec, im.size(1), im.size(2), im.size(3), data.test.name);

  std::fprintf(stderr, "sweep: %lld points in the grid, %lld in shard %s, %zu already in %s, %zu to run\n",
               static_cast<long long>(grid.size()), static_cast<long long>((grid.size() - shard.index + shard.count - 1) / shard.count),
               f.shard.c_str(), skipped, f.out.c_str(), todo.size());
  SweepRunOptions options;
  options.batch = f.batch;
  options.configs_per_pass = f.configs_per_pass;
  options.prefix_cache_bytes = static_cast<int64_t>(f.cache_gb * 1073741824.0);
  options.pass_bytes = static_cast<int64_t>(f.pass_gb * 1073741824.0);
  options.device_model = device_model.get();
  if (device_model) {
    data.test.to_device(device);  // once, before the timer (the PyTorch loop's data also waits there)
    // One clean evaluation before the timer, as the PyTorch loop warms up: the GPU libraries load
    // the kernels a shape needs on first use (tens of ms for cuBLAS), once per process.
    const auto w0 = std::chrono::steady_clock::now();
    evaluate(*device_model, data.test, f.batch);
    std::fprintf(stderr, "sweep: warm-up evaluation on %s took %.3f s (outside the timer)\n", device_name(device),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count());
    // Then the sweep's own kernels loaded and one clean pass at a stacked pass's size
    // (faults/sweep_warm_up.h); STUCKAT_SWEEP_WARMUP=0 skips it (to measure what it saves).
    const char* warm = std::getenv("STUCKAT_SWEEP_WARMUP");
    if (warm == nullptr || std::string(warm) != "0") {
      const auto w1 = std::chrono::steady_clock::now();
      const int64_t points = warm_up_sweep(data.test, options);
      std::fprintf(stderr, "sweep: warm-up pass of %lld stacked batches took %.3f s (outside the timer)\n",
                   static_cast<long long>(points), std::chrono::duration<double>(std::chrono::steady_clock::now() - w1).count());
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  // Rows go out as they finish, a group at a time (a CPU wave, a GPU epoch), with the progress on
  // stderr: on a terminal a line rewritten after each group, otherwise a line at most every 30 s.
  const bool tty = isatty(fileno(stderr)) != 0;
  size_t rows_out = 0;
  double last_report = 0;
  options.rows_done = [&] {
    writer.flush();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rows_out == todo.size() || (!tty && s - last_report < 30)) return;
    last_report = s;
    const double rate = rows_out / s, left = (todo.size() - rows_out) / rate;
    std::fprintf(stderr, tty ? "\rsweep: %zu/%zu points, %.1f points/s, about %.0f s left\033[K"
                             : "sweep: %zu/%zu points, %.1f points/s, about %.0f s left\n",
                 rows_out, todo.size(), rate, left);
  };
  run_sweep(*model, spec.name(), data.test, grid, todo, options, [&](const SweepRow& row) {
    writer.append(row);
    ++rows_out;
  });
  if (tty && last_report > 0) std::fprintf(stderr, "\r\033[K");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf("%s", sweep_summary_table(summarize_sweep(read_sweep_csv(f.out).rows)).c_str());
  std::printf("evaluated %zu points on %lld test images in %.3f s (%.1f points/s); rows in %s\n", todo.size(),
              static_cast<long long>(data.test.size()), seconds, seconds > 0 ? todo.size() / seconds : 0.0, f.out.c_str());
  return 0;
}

}  // namespace

Runner add_sweep_command(CLI::App& app) {
  auto f = std::make_shared<SweepFlags>();
  CLI::App* cmd = app.add_subcommand("sweep", "Evaluate a checkpoint under a grid of stuck-at faults; rows to CSV");
  cmd->add_option("--checkpoint", f->checkpoint, "checkpoint.safetensors written by train")->required();
  cmd->add_option("--model", f->model, "architecture (default: recorded in the checkpoint)");
  cmd->add_option("--out", f->out, "CSV file, one row per point, appended as points finish")->required();
  cmd->add_option("--layers", f->layers, "all, or comma-separated layer names (conv1,fc1)")->capture_default_str();
  cmd->add_option("--bits", f->bits, "bit positions, 0 = LSB, 15 = MSB (e.g. 0-15 or 3,11,15)")->capture_default_str();
  cmd->add_option("--stuck", f->stuck, "stuck values (0, 1 or 0,1)")->capture_default_str();
  cmd->add_option("--rates", f->rates, "fractions of the layer's weights that are faulty (e.g. 0.01,0.05)")
      ->capture_default_str();
  cmd->add_option("--seeds", f->seeds, "fault seeds (e.g. 0-4)")->capture_default_str();
  cmd->add_option("--formats", f->formats, "16-bit weight formats (q4.11, q<I>.<F>, maxabs, signmag, fp16)")
      ->capture_default_str();
  cmd->add_flag("--resume", f->resume, "keep the rows already in --out and run only the missing points");
  cmd->add_option("--shard", f->shard, "run shard i of n (points with index % n == i)")->capture_default_str();
  cmd->add_option("--batch", f->batch, "test images per forward pass")->capture_default_str();
  cmd->add_option("--configs-per-pass", f->configs_per_pass,
                  "--device cuda: fault configurations of a layer stacked in one pass over the data (the CPU "
                  "evaluates waves of up to 256 points, test batch by test batch)")
      ->capture_default_str();
  cmd->add_option("--cache-gb", f->cache_gb,
                  "memory for the clean activations reused across points, the deepest layers' first (on the CPU: "
                  "of one test batch)")
      ->capture_default_str();
  cmd->add_option("--pass-gb", f->pass_gb,
                  "--device cuda: activation memory of one pass; fewer configurations share a pass when theirs "
                  "would exceed it")
      ->capture_default_str();
  cmd->add_option("--max-points", f->max_points, "stop after this many new points (0: no limit)")->capture_default_str();
  add_data_flags(*cmd, f->common);
  return [f] { return run(*f); };
}

}  // namespace stuckat::cli
