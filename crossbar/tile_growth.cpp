// Greedy tile growth (see tile_growth.h). Gains live in lazy max-heaps: every change pushes a new
// entry and stale ones are skipped when popped, so a tile costs O(edges touched * log).
#include "crossbar/tile_growth.h"

#include <algorithm>
#include <queue>
#include <utility>
#include <vector>

namespace stuckat::xbar {
namespace {

using Entry = std::pair<int64_t, int32_t>;  // (value, -index): larger value first, then lower index

class Grower {
 public:
  Grower(const SparseMatrix& a, TileShape t) : a_(a), t_(t) {
    // CSC with, for every entry, the CSR index of the same nonzero.
    csc_ptr_.assign(static_cast<size_t>(a.cols) + 1, 0);
    for (int32_t c : a.col_idx) ++csc_ptr_[c + 1];
    for (int64_t c = 0; c < a.cols; ++c) csc_ptr_[c + 1] += csc_ptr_[c];
    csc_row_.resize(a.col_idx.size());
    csc_id_.resize(a.col_idx.size());
    std::vector<int64_t> next(csc_ptr_.begin(), csc_ptr_.end() - 1);
    for (int64_t r = 0; r < a.rows; ++r)
      for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
        const int64_t q = next[a.col_idx[k]]++;
        csc_row_[q] = static_cast<int32_t>(r);
        csc_id_[q] = k;
      }
    row_left_.resize(static_cast<size_t>(a.rows));
    col_left_.resize(static_cast<size_t>(a.cols));
    for (int64_t r = 0; r < a.rows; ++r) row_left_[r] = a.row_ptr[r + 1] - a.row_ptr[r];
    for (int64_t c = 0; c < a.cols; ++c) col_left_[c] = csc_ptr_[c + 1] - csc_ptr_[c];
    for (int64_t r = 0; r < a.rows; ++r)
      if (row_left_[r] > 0) row_seeds_.push({row_left_[r], -int32_t(r)});
    for (int64_t c = 0; c < a.cols; ++c)
      if (col_left_[c] > 0) col_seeds_.push({col_left_[c], -int32_t(c)});
    row_in_.assign(static_cast<size_t>(a.rows), -1);
    col_in_.assign(static_cast<size_t>(a.cols), -1);
    row_gain_.assign(static_cast<size_t>(a.rows), 0);
    col_gain_.assign(static_cast<size_t>(a.cols), 0);
    row_gain_tile_.assign(static_cast<size_t>(a.rows), -1);
    col_gain_tile_.assign(static_cast<size_t>(a.cols), -1);
    tile_of_.assign(a.col_idx.size(), -1);
  }

  TileAssignment run() {
    int64_t left = a_.nnz();
    int64_t tile = 0;
    while (left > 0) {
      left -= grow(tile);
      ++tile;
    }
    TileAssignment s;
    s.grid_cols = std::max<int64_t>(1, ceil_div(a_.cols, t_.cols));
    s.grid_rows = ceil_div(tile, s.grid_cols);
    s.tile_of_nonzero = std::move(tile_of_);
    return s;
  }

 private:
  // Grows tile `tile`; returns the number of nonzeros it took.
  int64_t grow(int64_t tile) {
    taken_ = 0;
    rows_ = cols_ = 0;
    for (const auto& [heap, entry] : set_aside_) heap->push(entry);
    set_aside_.clear();
    row_gains_ = {};
    col_gains_ = {};
    while (rows_ < t_.rows || cols_ < t_.cols) {
      const int64_t rg = rows_ < t_.rows ? top_gain(row_gains_, row_gain_, row_gain_tile_, row_in_, tile) : 0;
      const int64_t cg = cols_ < t_.cols ? top_gain(col_gains_, col_gain_, col_gain_tile_, col_in_, tile) : 0;
      if (rg > 0 || cg > 0) {
        // Equal gains: the side with more free room (relative to its size) takes the vertex.
        const bool take_row = rg > cg || (rg == cg && (t_.rows - rows_) * t_.cols >= (t_.cols - cols_) * t_.rows);
        if (take_row) add_row(-row_gains_.top().second, tile);
        else add_col(-col_gains_.top().second, tile);
        continue;
      }
      if (rows_ == t_.rows || cols_ == t_.cols) break;  // one side full and nothing connects
      // A fresh seed: the row or column with the most unassigned nonzeros.
      const int64_t rs = top_seed(row_seeds_, row_left_, row_in_, tile);
      const int64_t cs = top_seed(col_seeds_, col_left_, col_in_, tile);
      if (rs == 0 && cs == 0) break;
      if (cs >= rs) add_col(-col_seeds_.top().second, tile);
      else add_row(-row_seeds_.top().second, tile);
    }
    return taken_;
  }

  // Drops stale entries; returns the top valid gain (0 when none).
  static int64_t top_gain(std::priority_queue<Entry>& h, const std::vector<int64_t>& gain,
                          const std::vector<int64_t>& gain_tile, const std::vector<int64_t>& in, int64_t tile) {
    while (!h.empty()) {
      const int32_t v = -h.top().second;
      if (in[v] != tile && gain_tile[v] == tile && gain[v] == h.top().first) return h.top().first;
      h.pop();
    }
    return 0;
  }
  // Seeds already in this tile are set aside (kept for later tiles), stale ones dropped.
  int64_t top_seed(std::priority_queue<Entry>& h, const std::vector<int64_t>& left, const std::vector<int64_t>& in,
                   int64_t tile) {
    while (!h.empty()) {
      const int32_t v = -h.top().second;
      if (left[v] == h.top().first && left[v] > 0) {
        if (in[v] != tile) return h.top().first;
        set_aside_.emplace_back(&h, h.top());
      }
      h.pop();
    }
    return 0;
  }

  void take(int64_t k, int32_t r, int32_t c, int64_t tile) {
    tile_of_[k] = tile;
    ++taken_;
    if (--row_left_[r] > 0) row_seeds_.push({row_left_[r], -r});
    if (--col_left_[c] > 0) col_seeds_.push({col_left_[c], -c});
  }

  void add_row(int32_t r, int64_t tile) {
    row_in_[r] = tile;
    ++rows_;
    for (int64_t k = a_.row_ptr[r]; k < a_.row_ptr[r + 1]; ++k) {
      if (tile_of_[k] >= 0) continue;
      const int32_t c = a_.col_idx[k];
      if (col_in_[c] == tile) {
        take(k, r, c, tile);
      } else {
        if (col_gain_tile_[c] != tile) col_gain_tile_[c] = tile, col_gain_[c] = 0;
        col_gains_.push({++col_gain_[c], -c});
      }
    }
  }

  void add_col(int32_t c, int64_t tile) {
    col_in_[c] = tile;
    ++cols_;
    for (int64_t q = csc_ptr_[c]; q < csc_ptr_[c + 1]; ++q) {
      const int64_t k = csc_id_[q];
      if (tile_of_[k] >= 0) continue;
      const int32_t r = csc_row_[q];
      if (row_in_[r] == tile) {
        take(k, r, c, tile);
      } else {
        if (row_gain_tile_[r] != tile) row_gain_tile_[r] = tile, row_gain_[r] = 0;
        row_gains_.push({++row_gain_[r], -r});
      }
    }
  }

  const SparseMatrix& a_;
  TileShape t_;
  std::vector<int64_t> csc_ptr_, csc_id_;
  std::vector<int32_t> csc_row_;
  std::vector<int64_t> row_left_, col_left_, row_in_, col_in_, row_gain_, col_gain_, row_gain_tile_, col_gain_tile_;
  std::vector<int64_t> tile_of_;
  std::priority_queue<Entry> row_seeds_, col_seeds_, row_gains_, col_gains_;
  std::vector<std::pair<std::priority_queue<Entry>*, Entry>> set_aside_;
  int64_t taken_ = 0, rows_ = 0, cols_ = 0;
};

}  // namespace

TileAssignment grow_tiles(const SparseMatrix& a, TileShape t) { return Grower(a, t).run(); }

}  // namespace stuckat::xbar
