// Greedy tile growth (see tile_growth.h). A tile's gains live in lazy bucket queues (a gain is at
// most the tile's side): every change appends the vertex to its new gain's bucket and stale
// entries are skipped when they come to the top, so a tile costs O(edges touched). Among equal
// gains the vertex that reached it last is taken. Seeds (a row's or column's unassigned nonzeros)
// only fall, so their entries are upper bounds, refreshed when popped: a stale top is pushed again
// with its current value, which picks the same seed as pushing at every change would, with
// O(seed pops) pushes instead of two per nonzero. Each row's
// and column's list of nonzeros drops the assigned ones whenever it is walked, so a dense row
// that joins many tiles walks only what is left of it (powerlaw matrices of 1e7 nonzeros: 2.5x).
#include "crossbar/tile_growth.h"

#include "base/error.h"

#include <algorithm>
#include <cstdint>
#include <queue>
#include <utility>
#include <vector>

namespace stuckat::xbar {
namespace {

// (value, index) in one word, value in the high half and the index's complement in the low half:
// larger value first, then lower index.
using Entry = uint64_t;
constexpr Entry entry(int64_t value, int32_t index) {
  return (static_cast<uint64_t>(value) << 32) | (0xffffffffull - static_cast<uint32_t>(index));
}
constexpr int64_t value_of(Entry e) { return static_cast<int64_t>(e >> 32); }
constexpr int32_t index_of(Entry e) { return static_cast<int32_t>(0xffffffffull - (e & 0xffffffffull)); }

class Grower {
 public:
  // A row's or column's state, in one place: a walk's visit touches one cache line.
  // 32-bit fields (nonzeros, and so tiles, are checked to fit): 16 bytes a vertex.
  struct Vertex {
    int32_t left = 0;        // unassigned nonzeros
    int32_t in = -1;         // the last tile it joined
    int32_t gain_tile = -1;  // the tile `gain` counts for
    int32_t gain = 0;        // unassigned nonzeros to that tile's other side
  };
  Grower(const SparseMatrix& a, TileShape t) : a_(a), t_(t) {
    STUCKAT_CHECK(a.nnz() < (int64_t(1) << 31), "tile growth handles fewer than 2^31 nonzeros, got {}", a.nnz());
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
        csc_id_[q] = static_cast<int32_t>(k);
      }
    col_end_.assign(csc_ptr_.begin() + 1, csc_ptr_.end());
    row_col_.assign(a.col_idx.begin(), a.col_idx.end());
    row_id_.resize(a.col_idx.size());
    for (size_t k = 0; k < row_id_.size(); ++k) row_id_[k] = static_cast<int32_t>(k);
    row_end_.assign(a.row_ptr.begin() + 1, a.row_ptr.end());
    row_.resize(static_cast<size_t>(a.rows));
    col_.resize(static_cast<size_t>(a.cols));
    for (int64_t r = 0; r < a.rows; ++r) row_[r].left = static_cast<int32_t>(a.row_ptr[r + 1] - a.row_ptr[r]);
    for (int64_t c = 0; c < a.cols; ++c) col_[c].left = static_cast<int32_t>(csc_ptr_[c + 1] - csc_ptr_[c]);
    for (int64_t r = 0; r < a.rows; ++r)
      if (row_[r].left > 0) row_seeds_.push(entry(row_[r].left, int32_t(r)));
    for (int64_t c = 0; c < a.cols; ++c)
      if (col_[c].left > 0) col_seeds_.push(entry(col_[c].left, int32_t(c)));
    tile_of_.assign(a.col_idx.size(), -1);
    assigned_.assign((a.col_idx.size() + 63) / 64, 0);
  }

  TileAssignment run() {
    int64_t left = a_.nnz();
    int32_t tile = 0;
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
  int64_t grow(int32_t tile) {
    taken_ = 0;
    rows_ = cols_ = 0;
    for (const auto& [heap, entry] : set_aside_) heap->push(entry);
    set_aside_.clear();
    row_gains_.clear(t_.cols);  // a row's gain counts the tile's columns it reaches
    col_gains_.clear(t_.rows);
    while (rows_ < t_.rows || cols_ < t_.cols) {
      const int64_t rg = rows_ < t_.rows ? top_gain(row_gains_, row_, tile) : 0;
      const int64_t cg = cols_ < t_.cols ? top_gain(col_gains_, col_, tile) : 0;
      if (rg > 0 || cg > 0) {
        // Equal gains: the side with more free room (relative to its size) takes the vertex.
        const bool take_row = rg > cg || (rg == cg && (t_.rows - rows_) * t_.cols >= (t_.cols - cols_) * t_.rows);
        if (take_row) add_row(row_gains_.top(), tile);
        else add_col(col_gains_.top(), tile);
        continue;
      }
      if (rows_ == t_.rows || cols_ == t_.cols) break;  // one side full and nothing connects
      // A fresh seed: the row or column with the most unassigned nonzeros.
      const int64_t rs = top_seed(row_seeds_, row_, tile);
      const int64_t cs = top_seed(col_seeds_, col_, tile);
      if (rs == 0 && cs == 0) break;
      if (cs >= rs) add_col(index_of(col_seeds_.top()), tile);
      else add_row(index_of(row_seeds_.top()), tile);
    }
    return taken_;
  }

  // Vertices by gain, with stale entries (a vertex's older, lower gains; vertices since added).
  struct GainBuckets {
    std::vector<std::vector<int32_t>> bucket;  // [gain]
    int64_t top_gain = 0;
    void clear(int64_t max_gain) {
      if (static_cast<int64_t>(bucket.size()) < max_gain + 1) bucket.resize(static_cast<size_t>(max_gain + 1));
      for (int64_t g = 0; g <= top_gain && g < static_cast<int64_t>(bucket.size()); ++g) bucket[size_t(g)].clear();
      top_gain = 0;
    }
    void push(int32_t v, int64_t gain) {
      bucket[static_cast<size_t>(gain)].push_back(v);
      top_gain = std::max(top_gain, gain);
    }
    int32_t top() const { return bucket[static_cast<size_t>(top_gain)].back(); }
  };
  // Drops stale entries; returns the top valid gain (0 when none).
  static int64_t top_gain(GainBuckets& h, const std::vector<Vertex>& vs, int32_t tile) {
    while (h.top_gain > 0) {
      std::vector<int32_t>& b = h.bucket[static_cast<size_t>(h.top_gain)];
      if (b.empty()) {
        --h.top_gain;
        continue;
      }
      const int32_t v = b.back();
      const Vertex& x = vs[static_cast<size_t>(v)];
      if (x.in != tile && x.gain_tile == tile && x.gain == h.top_gain) return h.top_gain;
      b.pop_back();
    }
    return 0;
  }
  // Seeds already in this tile are set aside (kept for later tiles); a stale one goes back with its
  // current count (none when it has nothing left).
  int64_t top_seed(std::priority_queue<Entry>& h, const std::vector<Vertex>& vs, int32_t tile) {
    while (!h.empty()) {
      const Entry e = h.top();
      const int32_t v = index_of(e);
      const Vertex& x = vs[static_cast<size_t>(v)];
      if (x.left != value_of(e)) {  // fell since pushed
        h.pop();
        if (x.left > 0) h.push(entry(x.left, v));
        continue;
      }
      if (x.in != tile) return x.left;
      set_aside_.emplace_back(&h, e);
      h.pop();
    }
    return 0;
  }

  void take(int32_t k, int32_t r, int32_t c, int32_t tile) {
    tile_of_[k] = tile;
    assigned_[static_cast<size_t>(k >> 6)] |= uint64_t{1} << (k & 63);
    ++taken_;
    --row_[r].left;  // the seed heaps catch up when these come to the top
    --col_[c].left;
  }

  void add_row(int32_t r, int32_t tile) { add<true>(r, tile); }
  void add_col(int32_t c, int32_t tile) { add<false>(c, tile); }

  // Adds row (kRow) or column v to the tile: walks its list, takes the nonzeros whose other end is
  // in the tile, raises the other ends' gains, and moves its unassigned entries to the front.
  template <bool kRow>
  void add(int32_t v, int32_t tile) {
    std::vector<Vertex>& other = kRow ? col_ : row_;
    GainBuckets& other_gains = kRow ? col_gains_ : row_gains_;
    int32_t* ids = kRow ? row_id_.data() : csc_id_.data();
    int32_t* other_ends = kRow ? row_col_.data() : csc_row_.data();
    const int64_t begin = kRow ? a_.row_ptr[v] : csc_ptr_[v];
    int64_t& end = kRow ? row_end_[static_cast<size_t>(v)] : col_end_[static_cast<size_t>(v)];
    (kRow ? row_ : col_)[static_cast<size_t>(v)].in = tile;
    ++(kRow ? rows_ : cols_);
    // The other side's gains are read only while the tile has room on that side.
    const bool other_full = kRow ? cols_ >= t_.cols : rows_ >= t_.rows;
    const int64_t stop = end;
    int64_t kept = begin;
    for (int64_t q = begin; q < stop; ++q) {
      if (q + kAhead < stop) {  // the other end's state and the assigned bit, a few entries ahead
        __builtin_prefetch(&other[static_cast<size_t>(other_ends[q + kAhead])]);
        __builtin_prefetch(&assigned_[static_cast<size_t>(ids[q + kAhead] >> 6)]);
      }
      const int32_t k = ids[q];
      if (is_assigned(k)) continue;
      const int32_t u = other_ends[q];
      Vertex& x = other[static_cast<size_t>(u)];
      if (x.in == tile) {
        take(k, kRow ? v : u, kRow ? u : v, tile);
      } else {
        ids[kept] = k;
        other_ends[kept++] = u;
        if (other_full) continue;
        if (x.gain_tile != tile) x.gain_tile = tile, x.gain = 0;
        other_gains.push(u, ++x.gain);
      }
    }
    end = kept;
  }

  const SparseMatrix& a_;
  TileShape t_;
  // Per column (CSC) and per row: the nonzeros' CSR indices and other ends; the unassigned ones
  // sit in [ptr, end), the rest of the list is stale.
  std::vector<int64_t> csc_ptr_, col_end_, row_end_;
  std::vector<int32_t> csc_id_, row_id_, csc_row_, row_col_;
  std::vector<Vertex> row_, col_;
  static constexpr int64_t kAhead = 8;  // list entries prefetched ahead of a walk
  UninitializedVector<int64_t> tile_of_;
  // One bit per nonzero, set when assigned: the lists' walks test it (it stays in cache where
  // tile_of_, 64 times larger, does not).
  std::vector<uint64_t> assigned_;
  bool is_assigned(int32_t k) const { return (assigned_[static_cast<size_t>(k >> 6)] >> (k & 63)) & 1; }
  std::priority_queue<Entry> row_seeds_, col_seeds_;
  GainBuckets row_gains_, col_gains_;
  std::vector<std::pair<std::priority_queue<Entry>*, Entry>> set_aside_;
  int64_t taken_ = 0, rows_ = 0, cols_ = 0;
};

}  // namespace

TileAssignment grow_tiles(const SparseMatrix& a, TileShape t) { return Grower(a, t).run(); }

}  // namespace stuckat::xbar
