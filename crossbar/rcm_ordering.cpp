// Reverse Cuthill-McKee (see rcm_ordering.h).
#include "crossbar/rcm_ordering.h"

#include <algorithm>
#include <numeric>

namespace stuckat::xbar {

std::vector<int32_t> reverse_cuthill_mckee(const int64_t* adj_ptr, const int32_t* adj, int64_t n) {
  std::vector<int64_t> degree(static_cast<size_t>(n));
  for (int64_t v = 0; v < n; ++v) {
    degree[v] = adj_ptr[v + 1] - adj_ptr[v];
    for (int64_t k = adj_ptr[v]; k < adj_ptr[v + 1]; ++k)
      if (adj[k] == v) {
        ++degree[v];
        break;
      }
  }
  std::vector<int32_t> by_degree(static_cast<size_t>(n));
  std::iota(by_degree.begin(), by_degree.end(), 0);
  std::stable_sort(by_degree.begin(), by_degree.end(), [&](int32_t x, int32_t y) { return degree[x] < degree[y]; });
  std::vector<char> visited(static_cast<size_t>(n), 0);
  std::vector<int32_t> order;
  order.reserve(static_cast<size_t>(n));
  auto by_deg = [&](int32_t x, int32_t y) { return degree[x] < degree[y]; };
  for (int32_t seed : by_degree) {
    if (visited[seed]) continue;
    visited[seed] = 1;
    order.push_back(seed);
    // Breadth-first from the seed: the queue is the tail of `order` itself.
    for (size_t head = order.size() - 1; head < order.size(); ++head) {
      const int32_t v = order[head];
      const size_t first_new = order.size();
      for (int64_t k = adj_ptr[v]; k < adj_ptr[v + 1]; ++k) {
        const int32_t w = adj[k];
        if (!visited[w]) {
          visited[w] = 1;
          order.push_back(w);
        }
      }
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(first_new), order.end(), by_deg);
    }
    if (int64_t(order.size()) == n) break;
  }
  std::reverse(order.begin(), order.end());
  return order;
}

namespace {

struct List {
  const int32_t* begin;
  const int32_t* end;
};

List list_of(const AdjacencyLists& g, int64_t v) {
  if (v >= g.n) return {nullptr, nullptr};
  return {g.idx + g.ptr[v], g.idx + g.ptr[v + 1]};
}

// |x ∪ y| for two lists of distinct entries, +1 when v is among them. `mark` is a zeroed bit
// set over the vertices, left zeroed: x's entries are marked, y's looked up (an L1/L2-resident
// bit set beats merging the two sorted lists), and x's cleared again.
uint32_t union_degree(List x, List y, int32_t v, uint64_t* mark) {
  for (const int32_t* p = x.begin; p != x.end; ++p) mark[*p >> 6] |= uint64_t(1) << (*p & 63);
  int64_t both = 0;
  bool self = (mark[v >> 6] >> (v & 63)) & 1;
  for (const int32_t* q = y.begin; q != y.end; ++q) {
    both += (mark[*q >> 6] >> (*q & 63)) & 1;
    self |= *q == v;
  }
  for (const int32_t* p = x.begin; p != x.end; ++p) mark[*p >> 6] = 0;
  return static_cast<uint32_t>((x.end - x.begin) + (y.end - y.begin) - both + (self ? 1 : 0));
}

}  // namespace

std::vector<int32_t> reverse_cuthill_mckee(AdjacencyLists first, AdjacencyLists second, int64_t n) {
  std::vector<uint32_t> degree(static_cast<size_t>(n));
#pragma omp parallel if (n >= 4096)
  {
    std::vector<uint64_t> mark(static_cast<size_t>((n + 63) / 64), 0);
#pragma omp for schedule(static, 1024)
    for (int64_t v = 0; v < n; ++v)
      degree[v] = union_degree(list_of(first, v), list_of(second, v), static_cast<int32_t>(v), mark.data());
  }
  // Seeds by (degree, index): a counting sort over the degrees keeps indices in order.
  const uint32_t max_degree = n > 0 ? *std::max_element(degree.begin(), degree.end()) : 0;
  std::vector<int64_t> start(static_cast<size_t>(max_degree) + 2, 0);
  for (uint32_t d : degree) ++start[d + 1];
  for (size_t d = 1; d < start.size(); ++d) start[d] += start[d - 1];
  std::vector<int32_t> by_degree(static_cast<size_t>(n));
  for (int64_t v = 0; v < n; ++v) by_degree[start[degree[v]]++] = static_cast<int32_t>(v);

  std::vector<char> visited(static_cast<size_t>(n), 0);
  std::vector<int32_t> order;
  order.reserve(static_cast<size_t>(n));
  auto key = [&](int32_t w) { return (uint64_t(degree[w]) << 32) | uint32_t(w); };
  auto append_new = [&](List l) {
    for (const int32_t* p = l.begin; p != l.end; ++p) {
      const int32_t w = *p;
      if (!visited[w]) {
        visited[w] = 1;
        order.push_back(w);
      }
    }
  };
  for (int32_t seed : by_degree) {
    if (visited[seed]) continue;
    visited[seed] = 1;
    order.push_back(seed);
    // Breadth-first from the seed: the queue is the tail of `order` itself.
    // Once every vertex is placed, the rest of the queue cannot add any: stop scanning.
    for (size_t head = order.size() - 1; head < order.size() && int64_t(order.size()) < n; ++head) {
      const int32_t v = order[head];
      const size_t first_new = order.size();
      append_new(list_of(first, v));
      append_new(list_of(second, v));
      const size_t added = order.size() - first_new;
      if (added > 32) {
        std::sort(order.begin() + static_cast<std::ptrdiff_t>(first_new), order.end(),
                  [&](int32_t x, int32_t y) { return key(x) < key(y); });
        continue;
      }
      for (size_t i = first_new + 1; i < order.size(); ++i) {  // insertion sort: the usual case
        const int32_t w = order[i];
        const uint64_t kw = key(w);
        size_t j = i;
        for (; j > first_new && kw < key(order[j - 1]); --j) order[j] = order[j - 1];
        order[j] = w;
      }
    }
    if (int64_t(order.size()) == n) break;
  }
  std::reverse(order.begin(), order.end());
  return order;
}

}  // namespace stuckat::xbar
