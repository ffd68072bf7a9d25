// Reverse Cuthill-McKee on a graph given as adjacency lists (CSR), the same procedure as scipy's
// reverse_cuthill_mckee: vertices by increasing degree start the breadth-first searches (one per
// connected component), each vertex's newly reached neighbours are appended by increasing
// degree, and the final order is reversed. Degree = list length, +1 when the vertex lists itself.
// Ties are broken by vertex index (scipy's argsort leaves them unspecified).
#pragma once
#include <cstdint>
#include <vector>

namespace stuckat::xbar {

// adj_ptr: (n + 1); adj: neighbour lists. Returns position -> vertex, a permutation of 0..n-1.
std::vector<int32_t> reverse_cuthill_mckee(const int64_t* adj_ptr, const int32_t* adj, int64_t n);

}  // namespace stuckat::xbar
