// The sweep's CSV file: one row per evaluated point, appended and flushed as each point
// finishes, so an interrupted sweep loses at most the row being written and `--resume` can skip
// every point already in the file.
//
// Columns: index,model,layer,bit,stuck,rate,seed,format,faulty_weights,changed_weights,
//          test_acc,test_loss,nan
// The baseline row of a format has layer "baseline" and empty bit, stuck and seed, rate 0.
// faulty_weights: weights with a stuck bit; changed_weights: those whose word the fault changed.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "sweep/sweep_grid.h"

namespace stuckat::sweep {

struct SweepRow {
  SweepPoint point;
  std::string model;
  int64_t faulty_weights = 0, changed_weights = 0;
  double test_acc = 0, test_loss = 0;
  bool nan = false;  // the loss was NaN or inf
};

extern const char* const kSweepCsvHeader;  // without the newline

std::string format_sweep_row(const SweepRow& row);  // one line, without the newline

struct SweepCsvContents {
  std::vector<SweepRow> rows;
  int64_t complete_bytes = 0;  // length up to the last complete line (a killed writer may leave a partial one)
};

// One CSV line (without the newline) as a row: false when it is not a row of the 13 columns
// (problem empty) or holds values no sweep writes (problem says which).
bool parse_sweep_row(const std::string& line, SweepRow* row, std::string* problem);

// Reads a sweep CSV; a trailing line without '\n' is ignored. Throws InputError naming the file
// when the header or a complete row is malformed.
SweepCsvContents read_sweep_csv(const std::string& path);

// Whether `row` is the result of `point` on `model` (same index and parameters).
bool sweep_row_matches(const SweepRow& row, const SweepPoint& point, const std::string& model);

class SweepCsvWriter {
 public:
  // resume = false: creates `path` with the header; refuses (InputError) when it exists.
  // resume = true: keeps the complete rows of an existing file (truncating a partial last line),
  // or creates it when absent.
  SweepCsvWriter(const std::string& path, bool resume);
  ~SweepCsvWriter();
  SweepCsvWriter(const SweepCsvWriter&) = delete;
  SweepCsvWriter& operator=(const SweepCsvWriter&) = delete;

  const std::vector<SweepRow>& existing_rows() const { return existing_; }
  void append(const SweepRow& row);  // writes one line (buffered)
  void flush();                      // hands the buffered lines to the file

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<SweepRow> existing_;
};

}  // namespace stuckat::sweep
