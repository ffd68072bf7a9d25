// The `sweep` job (jobs/sweep_job.h): reads the checkpoint and the test split, expands the grid,
// skips the points already in the CSV (--resume) or outside the shard, and runs the rest through
// the sweep engine (sweep/sweep_runner.h), streaming rows and progress.
#include "jobs/sweep_job.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cluster/work_queue.h"
#include "cluster/world.h"
#include "faults/faulty_model.h"
#include "sweep/sweep_csv.h"
#include "sweep/sweep_grid.h"
#include "sweep/sweep_runner.h"
#include "sweep/sweep_summary.h"
#include "sweep/sweep_units.h"
#include "sweep/adaptive_seeds.h"
#include "sweep/sweep_warm_up.h"
#include "base/weight_format.h"
#include "base/error.h"
#include "base/limits.h"
#include "framework/io/checkpoint.h"
#include "framework/train/trainer.h"
#include "jobs/local_gpu.h"
#include "jobs/model_source.h"
#include "models/model_zoo.h"

namespace stuckat::jobs {

using namespace stuckat::sweep;

namespace {

// The grid the options describe, checked (each list's flag named in its errors).
SweepGrid parse_grid(const SweepOptions& f, const Module& model) {
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
  grid.layers = parse_layer_list(f.layers, faultable_layer_names(model));
  for (int64_t b : parse_int_list(f.bits, "--bits", 0, 15)) grid.bits.push_back(static_cast<int>(b));
  for (int64_t s : parse_int_list(f.stuck, "--stuck", 0, 1)) grid.stuck.push_back(static_cast<int>(s));
  grid.rates = parse_rate_list(f.rates, "--rates");
  if (f.seeds == "auto") {
    if (f.min_seeds < 2 || f.max_seeds < f.min_seeds || f.max_seeds > 100000)
      throw_input_error("--seeds auto needs 2 <= --min-seeds <= --max-seeds <= 100000, got {} and {}", f.min_seeds, f.max_seeds);
    if (!(f.ci > 0 && f.ci <= 100)) throw_input_error("--ci must be in (0, 100] accuracy points, got {}", f.ci);
    if (f.shard != "0/1" || f.max_points != 0)
      throw_input_error("--seeds auto decides the seeds from the results so far: run it whole (no --shard, no --max-points); "
                        "under mpirun the ranks share it");
    for (int64_t s = 0; s < f.max_seeds; ++s) grid.seeds.push_back(static_cast<uint64_t>(s));
  } else {
    for (int64_t s : parse_int_list(f.seeds, "--seeds", 0, int64_t(1) << 62)) grid.seeds.push_back(static_cast<uint64_t>(s));
  }
  // Counted before any point exists: each list is within its cap, so the product fits 64 bits.
  if (grid.size() > limits::kMaxGridPoints)
    throw_input_error("the sweep grid has {} points (formats x (1 + layers x --bits x --stuck x --rates x --seeds)), more "
                      "than the {} one sweep may hold; run it as several sweeps over smaller lists",
                      grid.size(), limits::kMaxGridPoints);
  return grid;
}

// The points of this run: the shard's, less those already in the CSV (which must belong to this
// grid and model), at most max_points of them.
std::vector<int64_t> points_to_run(const SweepGrid& grid, const SweepShard& shard, const SweepCsvWriter& writer,
                                   const std::string& model, const SweepOptions& f) {
  std::vector<bool> done(static_cast<size_t>(grid.size()), false);
  for (const SweepRow& row : writer.existing_rows()) {
    const int64_t i = row.point.index;
    if (i < 0 || i >= grid.size() || !sweep_row_matches(row, sweep_point(grid, i), model))
      throw_input_error("--resume: {} holds point {} of another sweep (different model or grid); use another --out", f.out,
                        i);
    if (done[static_cast<size_t>(i)])
      throw_input_error("--resume: {} holds point {} twice; remove one of its rows and resume", f.out, i);
    done[static_cast<size_t>(i)] = true;
  }
  std::vector<int64_t> todo;
  for (int64_t i = 0; i < grid.size(); ++i)
    if (shard.owns(i) && !done[static_cast<size_t>(i)]) todo.push_back(i);
  if (f.max_points > 0 && static_cast<int64_t>(todo.size()) > f.max_points) todo.resize(static_cast<size_t>(f.max_points));
  return todo;
}

// The GPU copy warmed up before the timer.
void warm_up(Module& device_model, const Dataset& test, const SweepRunOptions& options, int64_t batch) {
  // One clean evaluation before the timer, as the PyTorch loop warms up: the GPU libraries load
  // the kernels a shape needs on first use (tens of ms for cuBLAS), once per process.
  const auto w0 = std::chrono::steady_clock::now();
  evaluate(device_model, test, batch);
  std::fprintf(stderr, "sweep: warm-up evaluation on %s took %.3f s (outside the timer)\n", "cuda",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count());
  // Then the sweep's own kernels loaded and one clean pass at a stacked pass's size
  // (sweep/sweep_warm_up.h); STUCKAT_SWEEP_WARMUP=0 skips it (to measure what it saves).
  const char* warm = std::getenv("STUCKAT_SWEEP_WARMUP");
  if (warm == nullptr || std::string(warm) != "0") {
    const auto w1 = std::chrono::steady_clock::now();
    const int64_t points = warm_up_sweep(test, options);
    std::fprintf(stderr, "sweep: warm-up pass of %lld stacked batches took %.3f s (outside the timer)\n",
                 static_cast<long long>(points), std::chrono::duration<double>(std::chrono::steady_clock::now() - w1).count());
  }
}

// Rank 0 of a distributed or adaptive sweep: hands out the units of each round of points and
// writes the rows they send back. `next_round` gives a round's points (ascending) once the
// previous round's rows are all in, or none when the sweep is complete; `points` is how many
// the progress counts toward (0: unknown, as with adaptive seeds).
class SweepCoordinator : public cluster::WorkCoordinator {
 public:
  SweepCoordinator(std::function<std::vector<int64_t>()> next_round, int64_t per_unit, int64_t points,
                   SweepCsvWriter& writer, const SweepGrid& grid, const std::string& model)
      : next_round_(std::move(next_round)), per_unit_(per_unit), points_(points), writer_(writer), grid_(grid), model_(model),
        t0_(std::chrono::steady_clock::now()), tty_(isatty(fileno(stderr)) != 0) {}

  cluster::NextUnit next(std::string* unit) override {
    if (next_ == units_.size()) {
      if (outstanding_ > 0) return cluster::NextUnit::kLater;
      const std::vector<int64_t> round = next_round_();
      if (round.empty()) return cluster::NextUnit::kFinished;
      ++rounds_;
      units_ = sweep_units(grid_, round, per_unit_);
      next_ = 0;
    }
    *unit = encode_sweep_unit(units_[next_++]);
    ++outstanding_;
    return cluster::NextUnit::kUnit;
  }

  // Called with each row as it is written (adaptive seeds keep their accuracies).
  std::function<void(const SweepRow&)> on_row;
  int rounds() const { return rounds_; }
  int64_t rows() const { return rows_; }

  void finished(const std::string& unit, const std::string& result, int rank) override {
    const std::vector<int64_t> expected = decode_sweep_unit(unit, grid_);
    size_t k = 0, start = 0;
    while (start < result.size()) {
      const size_t nl = result.find('\n', start);
      const std::string line = result.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      start = nl == std::string::npos ? result.size() : nl + 1;
      SweepRow row;
      std::string problem;
      STUCKAT_CHECK(parse_sweep_row(line, &row, &problem) && k < expected.size() &&
                        sweep_row_matches(row, sweep_point(grid_, expected[k]), model_),
                    "rank {} sent a row that is not point {} of the unit: '{}' {}", rank, k < expected.size() ? expected[k] : -1,
                    line, problem);
      writer_.append(row);
      if (on_row) on_row(row);
      ++k;
    }
    STUCKAT_CHECK(k == expected.size(), "rank {} sent {} rows for a unit of {} points", rank, k, expected.size());
    writer_.flush();
    --outstanding_;
    rows_ += static_cast<int64_t>(k);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (rows_ == points_ || (!tty_ && s - last_report_ < 30)) return;
    last_report_ = s;
    const double rate = rows_ / s;
    const std::string left = points_ > 0 ? fmt::format("/{} points, about {:.0f} s left", points_, (points_ - rows_) / rate)
                                         : fmt::format(" points (round {} of the adaptive seeds)", rounds_);
    std::fprintf(stderr, tty_ ? "\rsweep: %lld%s on %d ranks, %.1f points/s\033[K" : "sweep: %lld%s on %d ranks, %.1f points/s\n",
                 static_cast<long long>(rows_), left.c_str(), cluster::world_size(), rate);
  }

  bool reported() const { return last_report_ > 0; }

 private:
  std::function<std::vector<int64_t>()> next_round_;
  int64_t per_unit_ = 1;
  std::vector<std::vector<int64_t>> units_;
  size_t next_ = 0;
  int64_t outstanding_ = 0;
  int rounds_ = 0;
  int64_t points_ = 0, rows_ = 0;
  SweepCsvWriter& writer_;
  const SweepGrid& grid_;
  const std::string& model_;
  std::chrono::steady_clock::time_point t0_;
  bool tty_ = false;
  double last_report_ = 0;
};

}  // namespace

SweepResult run_sweep_job(SweepOptions f) {
  // A sweep allocates and frees the same activation sizes (MBs each) thousands of times. glibc
  // serves such blocks with mmap and returns them on free, so every reuse page-faults them in
  // again; keeping them in the heap instead made LeNet-5 conv1 points ~1.5x faster.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  const bool distributed = cluster::world_is_distributed();
  const bool root = cluster::world_rank() == 0;
  // Every rank reads the flags, the checkpoint and the test set; rank 0 alone opens the CSV and
  // works out which points are left. Any failure stops every rank before work starts.
  Device device = f.device;
  SweepShard shard;
  ModelSource source;
  std::shared_ptr<Module> model, device_model;
  SweepGrid grid;
  DataSplit data;
  std::unique_ptr<SweepCsvWriter> writer;
  size_t skipped = 0;
  std::vector<int64_t> todo;
  cluster::setup_on_every_rank([&] {
    if (f.batch < 1) throw_input_error("--batch must be >= 1, got {}", f.batch);
    if (f.configs_per_pass < 1) throw_input_error("--configs-per-pass must be >= 1, got {}", f.configs_per_pass);
    if (f.max_points < 0) throw_input_error("--max-points must be >= 0 (0: no limit), got {}", f.max_points);
    if (!(f.cache_gb >= 0 && f.cache_gb <= 1e6)) throw_input_error("--cache-gb must be in [0, 1e6], got {}", f.cache_gb);
    if (!(f.pass_gb > 0 && f.pass_gb <= 1e6)) throw_input_error("--pass-gb must be in (0, 1e6], got {}", f.pass_gb);
    shard = parse_sweep_shard(f.shard);
    if (!f.summary.empty() && f.summary == f.out) throw_input_error("--summary must name another file than --out");
    if (distributed && device == Device::CUDA) use_local_gpu("sweep");
    source = ModelSource::from_checkpoint(f.checkpoint, f.model);
    model = source.load();
    // --device cuda: the fault draws and forward passes run on a GPU copy of the model.
    if (device != Device::CPU) {
      device_model = source.load();
      device_model->to(device);
    }
    grid = parse_grid(f, *model);
    // The data before the CSV: a test set that cannot be read (or is empty) leaves no file behind.
    DataOptions data_options = f.data;
    data_options.test_only = true;  // the sweep reads only the test split
    data = load_data(data_options);
    const Tensor& im = data.test.images;
    source.check_input(im.size(1), im.size(2), im.size(3), data.test.name);
    if (root) {
      writer = std::make_unique<SweepCsvWriter>(f.out, f.resume);
      skipped = writer->existing_rows().size();
      todo = points_to_run(grid, shard, *writer, source.name(), f);
    }
  });

  if (root)
    std::fprintf(stderr, "sweep: %lld points in the grid, %lld in shard %s, %zu already in %s, %zu to run%s\n",
                 static_cast<long long>(grid.size()),
                 static_cast<long long>((grid.size() - shard.index + shard.count - 1) / shard.count), f.shard.c_str(),
                 skipped, f.out.c_str(), todo.size(),
                 (std::string(f.seeds == "auto" ? fmt::format(" at most (adaptive seeds: {} to {} per point until the 95% "
                                                              "half-width is <= {} points)", f.min_seeds, f.max_seeds, f.ci)
                                                : "") +
                  (distributed ? fmt::format(" on {} ranks", cluster::world_size()) : ""))
                     .c_str());
  SweepRunOptions options;
  options.batch = f.batch;
  options.configs_per_pass = f.configs_per_pass;
  options.prefix_cache_bytes = static_cast<int64_t>(f.cache_gb * 1073741824.0);
  options.pass_bytes = static_cast<int64_t>(f.pass_gb * 1073741824.0);
  options.device_model = device_model.get();
  if (device_model) {
    data.test.to_device(device);  // once, before the timer (the PyTorch loop's data also waits there)
    warm_up(*device_model, data.test, options, f.batch);
  }
  const auto t0 = std::chrono::steady_clock::now();
  int64_t points = 0;
  const bool adaptive = f.seeds == "auto";
  int rounds = 0;
  if (distributed || adaptive) {
    // Units of up to a wave's points, cut smaller when the grid is small, so that every rank gets
    // several (points differ in cost by 100x: a last large unit would keep one rank busy alone).
    const int64_t ranks = cluster::world_size();
    const int64_t per_unit = std::max<int64_t>(1, std::min<int64_t>(options.wave_points,
                                                                   (static_cast<int64_t>(todo.size()) + 4 * ranks - 1) / (4 * ranks)));
    std::unique_ptr<SweepCoordinator> coordinator;
    // Adaptive seeds: which points are in, with their accuracies (the rows already in --out too).
    std::vector<char> done;
    std::vector<double> accuracy;
    AdaptiveSeeds settings;
    bool first_round = true;
    if (root) {
      std::function<std::vector<int64_t>()> next_round = [&, first_round]() mutable {
        if (!first_round) return std::vector<int64_t>();
        first_round = false;
        return todo;
      };
      if (adaptive) {
        done.assign(static_cast<size_t>(grid.size()), 0);
        accuracy.assign(static_cast<size_t>(grid.size()), 0.0);
        for (const SweepRow& r : writer->existing_rows()) {
          done[size_t(r.point.index)] = 1;
          accuracy[size_t(r.point.index)] = r.test_acc;
        }
        settings.min_seeds = static_cast<int>(f.min_seeds);
        settings.max_seeds = static_cast<int>(f.max_seeds);
        settings.half_width = f.ci / 100.0;
        next_round = [&] { return next_adaptive_round(grid, done, accuracy, settings); };
      }
      coordinator = std::make_unique<SweepCoordinator>(next_round, per_unit, adaptive ? 0 : static_cast<int64_t>(todo.size()),
                                                       *writer, grid, source.name());
      if (adaptive)
        coordinator->on_row = [&](const SweepRow& r) {
          done[size_t(r.point.index)] = 1;
          accuracy[size_t(r.point.index)] = r.test_acc;
        };
      cluster::say_on_termination(fmt::format(
          "stuckat: sweep: the job was ended by a signal (mpirun ends every rank when one of them dies); the rows "
          "finished so far are in {}: run the same command with --resume to complete it",
          f.out));
    }
    cluster::run_work_queue(coordinator.get(), [&](const std::string& unit) {
      std::string rows;
      run_sweep(*model, source.name(), data.test, grid, decode_sweep_unit(unit, grid), options,
                [&](const SweepRow& row) { rows += format_sweep_row(row) + "\n"; });
      return rows;
    });
    if (root && coordinator->reported() && isatty(fileno(stderr))) std::fprintf(stderr, "\r\033[K");
    if (root) {
      points = coordinator->rows();
      rounds = coordinator->rounds();
    }
  } else {
    // Rows go out as they finish, a group at a time (a CPU wave, a GPU epoch), with the progress on
    // stderr: on a terminal a line rewritten after each group, otherwise a line at most every 30 s.
    const bool tty = isatty(fileno(stderr)) != 0;
    size_t rows_out = 0;
    double last_report = 0;
    options.rows_done = [&] {
      writer->flush();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (rows_out == todo.size() || (!tty && s - last_report < 30)) return;
      last_report = s;
      const double rate = rows_out / s, left = (todo.size() - rows_out) / rate;
      std::fprintf(stderr, tty ? "\rsweep: %zu/%zu points, %.1f points/s, about %.0f s left\033[K"
                               : "sweep: %zu/%zu points, %.1f points/s, about %.0f s left\n",
                   rows_out, todo.size(), rate, left);
    };
    run_sweep(*model, source.name(), data.test, grid, todo, options, [&](const SweepRow& row) {
      writer->append(row);
      ++rows_out;
    });
    if (tty && last_report > 0) std::fprintf(stderr, "\r\033[K");
    points = static_cast<int64_t>(todo.size());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  SweepResult result;
  result.points = points;
  result.images = data.test.size();
  result.seconds = seconds;
  if (root) {
    writer.reset();  // closed before it is read back
    const std::vector<SweepSummaryLine> lines = summarize_sweep(read_sweep_csv(f.out).rows);
    std::string stats;
    if (!f.summary.empty()) {  // seeds, mean accuracy and its 95% half-width per point
      write_sweep_summary_csv(lines, f.summary);
      stats = fmt::format("per point: seeds, mean accuracy and its 95% half-width in {}\n", f.summary);
    }
    if (adaptive) stats += fmt::format("adaptive seeds: {} round(s), target half-width {} points\n", rounds, f.ci);
    result.text = sweep_summary_table(lines) + stats +
                  fmt::format("evaluated {} points on {} test images in {:.3f} s ({:.1f} points/s{}); rows in {}\n", points,
                              data.test.size(), seconds, seconds > 0 ? points / seconds : 0.0,
                              distributed ? fmt::format(", {} ranks", cluster::world_size()) : std::string(), f.out);
  }
  return result;
}
}  // namespace stuckat::jobs
