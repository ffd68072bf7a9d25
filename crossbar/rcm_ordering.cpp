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
      // Stable insertion sort, like scipy, when the new neighbours are few (the usual case).
      if (order.size() - first_new > 32) {
        std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(first_new), order.end(), by_deg);
        continue;
      }
      for (size_t i = first_new + 1; i < order.size(); ++i) {
        const int32_t w = order[i];
        size_t j = i;
        for (; j > first_new && by_deg(w, order[j - 1]); --j) order[j] = order[j - 1];
        order[j] = w;
      }
    }
    if (int64_t(order.size()) == n) break;
  }
  std::reverse(order.begin(), order.end());
  return order;
}

}  // namespace stuckat::xbar
