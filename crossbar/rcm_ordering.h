// Reverse Cuthill-McKee, the same procedure as scipy's reverse_cuthill_mckee: vertices by
// increasing degree start the breadth-first searches (one per connected component), each vertex's
// newly reached neighbours are appended by increasing degree, and the final order is reversed.
// Degree = number of distinct neighbours, +1 when the vertex lists itself. Ties are broken by
// vertex index (scipy's argsort leaves them unspecified).
#pragma once
#include <cstdint>
#include <vector>

namespace stuckat::xbar {

// The reference: one adjacency list per vertex (CSR, sorted lists). adj_ptr: (n + 1).
// Returns position -> vertex, a permutation of 0..n-1.
std::vector<int32_t> reverse_cuthill_mckee(const int64_t* adj_ptr, const int32_t* adj, int64_t n);

// Sorted adjacency lists for vertices 0..n-1 (vertices >= n have none).
struct AdjacencyLists {
  const int64_t* ptr = nullptr;
  const int32_t* idx = nullptr;
  int64_t n = 0;
};

// The same order on the graph whose vertex v has the union of first's and second's lists as its
// neighbours (rows of A and of A^T for the graph of A + A^T), without building the merged graph:
// degrees come from each pair of lists' size and overlap, and each vertex's new neighbours are
// sorted by (degree, index), which is the reference's stable sort of an index-ordered list.
std::vector<int32_t> reverse_cuthill_mckee(AdjacencyLists first, AdjacencyLists second, int64_t n);

}  // namespace stuckat::xbar
