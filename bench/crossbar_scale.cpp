// Crossbar counting and reordering at scale: synthetic sparse matrices (uniform or
// power-law row degrees) from 1e4 to 1e8 nonzeros. Validates the fast counters against the
// reference (where the reference's flag arrays fit), then times counting, compaction and each
// reordering with the production code, and prints one JSON line. bench/crossbar_scale.py runs the
// numpy/scipy anchors on the same matrices (written with --write) and prints the ratios.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "crossbar/gpu_counting.h"
#include "crossbar/strategies.h"
#include "crossbar/tile_counts.h"
#include "framework/parallel.h"

using namespace stuckat;
using namespace stuckat::xbar;

namespace {

// n x n, row degrees uniform (nnz/n each) or power-law (~ (i+1)^-0.8, rows shuffled), distinct
// uniformly random columns per row (Floyd's sampling), deterministic for a seed.
SparseMatrix synthetic(const std::string& kind, int64_t nnz, double density, uint64_t seed) {
  const int64_t n = std::max<int64_t>(16, std::llround(std::sqrt(double(nnz) / density)));
  std::mt19937_64 rng(seed);
  std::vector<int64_t> degree(static_cast<size_t>(n), nnz / n);
  if (kind == "uniform") {
    for (int64_t i = 0; i < nnz % n; ++i) ++degree[i];
  } else {
    std::vector<double> w(static_cast<size_t>(n));
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += w[i] = std::pow(double(i + 1), -0.8);
    int64_t placed = 0;
    for (int64_t i = 0; i < n; ++i) placed += degree[i] = std::min<int64_t>(n, int64_t(double(nnz) * w[i] / sum));
    for (int64_t i = 0; placed < nnz; i = (i + 1) % n)
      if (degree[i] < n) ++degree[i], ++placed;
    std::shuffle(degree.begin(), degree.end(), rng);
  }
  SparseMatrix m;
  m.name = kind;
  m.rows = m.cols = n;
  m.row_ptr.assign(static_cast<size_t>(n) + 1, 0);
  for (int64_t i = 0; i < n; ++i) m.row_ptr[i + 1] = m.row_ptr[i] + degree[i];
  m.col_idx.resize(static_cast<size_t>(m.row_ptr[n]));
  m.values.assign(m.col_idx.size(), 1.0f);
  std::vector<int32_t> row;
  std::vector<char> taken(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    row.clear();
    for (int64_t j = n - degree[i]; j < n; ++j) {  // Floyd: k distinct values from [0, n)
      int64_t t = int64_t(rng() % uint64_t(j + 1));
      if (taken[t]) t = j;
      taken[t] = 1;
      row.push_back(static_cast<int32_t>(t));
    }
    for (int32_t c : row) taken[c] = 0;
    std::sort(row.begin(), row.end());
    std::copy(row.begin(), row.end(), m.col_idx.begin() + m.row_ptr[i]);
  }
  return m;
}

double best_seconds(int repeats, const std::function<void()>& f) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

nlohmann::json counts_json(const TileCounts& n) {
  return {{"tiles", n.tiles}, {"nonzero_tiles", n.nonzero_tiles}, {"col_segments", n.col_segments},
          {"nonzero_col_segments", n.nonzero_col_segments}, {"row_segments", n.row_segments},
          {"nonzero_row_segments", n.nonzero_row_segments}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crossbar counting/reordering scale benchmark (one matrix per run, JSON line on stdout)"};
  std::string kind = "uniform", write, strategies = "compact,rcm,spara,best";
  double nnz_d = 1e6, density = 1e-3;
  int64_t size = 128, best_max = 1000000, rcm_max = 10000000;
  uint64_t seed = 0;
  int repeats = 3;
  bool gpu = false;
  app.add_option("--kind", kind, "uniform | powerlaw")->check(CLI::IsMember({"uniform", "powerlaw"}));
  app.add_option("--nnz", nnz_d, "nonzeros");
  app.add_option("--density", density, "density of the square matrix (sets its side)");
  app.add_option("--size", size, "tile size S");
  app.add_option("--seed", seed);
  app.add_option("--repeats", repeats, "timed runs; the best is kept");
  app.add_option("--strategies", strategies, "reorderings to time (none is always counted)");
  app.add_option("--best-max", best_max, "run 'best' only up to this many nonzeros");
  app.add_option("--rcm-max", rcm_max, "run the rcm family only up to this many nonzeros");
  app.add_option("--write", write, "write row_ptr.i64 / col_idx.i32 here for the numpy/scipy anchors");
  app.add_flag("--gpu", gpu, "also time the GPU counters (needs a CUDA build and device)");
  CLI11_PARSE(app, argc, argv);
  const int64_t nnz = std::llround(nnz_d);
  const TileShape t{size, size};

  const auto g0 = std::chrono::steady_clock::now();
  const SparseMatrix a = synthetic(kind, nnz, density, seed);
  const double gen_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
  if (!write.empty()) {
    std::ofstream(write + "/row_ptr.i64", std::ios::binary)
        .write(reinterpret_cast<const char*>(a.row_ptr.data()), std::streamsize(a.row_ptr.size() * 8));
    std::ofstream(write + "/col_idx.i32", std::ios::binary)
        .write(reinterpret_cast<const char*>(a.col_idx.data()), std::streamsize(a.col_idx.size() * 4));
  }

  nlohmann::json out = {{"kind", kind}, {"n", a.rows}, {"nnz", a.nnz()}, {"size", size}, {"threads", num_threads()},
                        {"generate_seconds", gen_s}};
  // Validate first: fast == reference (when the reference's flag arrays stay under ~1 GB).
  const TileCounts counts = count_tiles(a, t);
  const double ref_bytes = double(ceil_div(a.rows, size)) * double(a.cols) * 2.0 + double(ceil_div(a.rows, size)) * double(ceil_div(a.cols, size));
  if (ref_bytes < 1e9) {
    const TileCounts ref = count_tiles_ref(a, t);
    if (!(ref == counts)) {
      std::fprintf(stderr, "count_tiles differs from count_tiles_ref\n");
      return 1;
    }
    out["validated_against_reference"] = true;
  }
  const int64_t compact_tiles = count_compact_tiles(a, t);
  out["counts"] = counts_json(counts);
  nlohmann::json times, tiles;
  times["count"] = best_seconds(repeats, [&] { (void)count_tiles(a, t); });
  times["compact_count"] = best_seconds(repeats, [&] { (void)count_compact_tiles(a, t); });
  {
    const int threads = num_threads();
    set_num_threads(1);
    times["count_1thread"] = best_seconds(repeats, [&] { (void)count_tiles(a, t); });
    times["compact_count_1thread"] = best_seconds(repeats, [&] { (void)count_compact_tiles(a, t); });
    set_num_threads(threads);
  }
  tiles["none"] = counts.nonzero_tiles;
  tiles["compact"] = compact_tiles;
  for (const std::string& name : parse_strategy_list(strategies, "--strategies")) {
    if (name == "best" && nnz > best_max) continue;
    if (name.rfind("rcm", 0) == 0 && nnz > rcm_max) continue;
    int64_t used = 0;
    times[name] = best_seconds(name == "best" ? 1 : repeats, [&] { used = count_assigned_tiles(run_strategy(name, a, t)); });
    if (name == "compact" && used != compact_tiles) {
      std::fprintf(stderr, "count_compact_tiles differs from reorder_compact\n");
      return 1;
    }
    tiles[name] = used;
  }
  if (gpu) {
    GpuTiming timing;
    TileCounts g;
    double best_compute = 1e30, best_upload = 1e30;
    for (int r = 0; r < repeats; ++r) {
      g = count_tiles_gpu(a, t, &timing);
      best_compute = std::min(best_compute, timing.compute_seconds);
      best_upload = std::min(best_upload, timing.upload_seconds);
    }
    if (!(g == counts)) {
      std::fprintf(stderr, "count_tiles_gpu differs from count_tiles\n");
      return 1;
    }
    times["gpu_count"] = best_compute;
    times["gpu_upload"] = best_upload;
    GpuTiming ct;
    const int64_t gc = count_compact_tiles_gpu(a, t, &ct);
    if (gc != compact_tiles) {
      std::fprintf(stderr, "count_compact_tiles_gpu differs from count_compact_tiles\n");
      return 1;
    }
    times["gpu_compact_count"] = ct.compute_seconds;
    GpuTiming mt;
    const TileAssignment gm = reorder_compact_gpu(a, t, &mt);
    if (gm.tile_of_nonzero != reorder_compact(a, t).tile_of_nonzero) {
      std::fprintf(stderr, "reorder_compact_gpu differs from reorder_compact\n");
      return 1;
    }
    times["gpu_compact_map"] = mt.compute_seconds;  // sorts and scans; upload and download excluded
  }
  out["times"] = times;
  out["tiles"] = tiles;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
