// Per-layer weight histograms, a training diagnostic: with stuck-at faults and normalization the
// weights of a layer can drift or collapse to zero as training goes on, and a histogram at chosen
// epochs/batches shows when. The schedule says when to record; the CSV rows say what was seen.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stuckat {

struct WeightHistogram {
  double lo = 0, hi = 0;        // range of the finite weights (bins are equal-width over [lo, hi])
  std::vector<int64_t> counts;  // finite weights per bin; w == hi goes to the last bin
  int64_t total = 0;            // all weights, finite or not
  int64_t zeros = 0;            // weights exactly +-0
  int64_t nonfinite = 0;        // NaN or +-inf (not binned)
  double mean_abs = 0;          // over the finite weights
};

// w: n weights. bins >= 1. With no finite weights, lo = hi = 0 and every count is 0; when all
// finite weights are equal, they all land in bin 0.
WeightHistogram weight_histogram(const float* w, int64_t n, int bins);

// When to record: "epochs=all" (after every epoch), "epochs=0,5,10" (0 = before training),
// "batches=N" (every N-th batch of every epoch, counting from 1). Anything else throws
// InputError naming --histograms.
struct HistogramSchedule {
  bool every_epoch = false;
  std::vector<int> epochs;  // finished-epoch counts; 0 = the initial weights
  int64_t every_batches = 0;

  bool at_epoch(int finished_epochs) const;
  bool at_batch(int64_t batch_index) const;  // batch_index counted from 0 within an epoch
  bool active() const { return every_epoch || !epochs.empty() || every_batches > 0; }
};
HistogramSchedule parse_histogram_schedule(const std::string& text);

// CSV rows "epoch,batch,layer,bin,lo,hi,count" (one per bin; batch is -1 for an epoch-end record)
// and the matching summary row "epoch,batch,layer,weights,zeros,nonfinite,min,max,mean_abs".
std::string histogram_csv_header();
std::string histogram_csv_rows(int epoch, int64_t batch, const std::string& layer, const WeightHistogram& h);
std::string histogram_summary_header();
std::string histogram_summary_row(int epoch, int64_t batch, const std::string& layer, const WeightHistogram& h);

}  // namespace stuckat
