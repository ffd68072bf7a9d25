// Matrices from files, for studies beyond CNN layers: Matrix Market coordinate files (real,
// integer or pattern; general) and 2-D NumPy .npy arrays (float32/float64, C order). Rows are
// taken as inputs and columns as outputs, as written in the file. Malformed files throw
// InputError with one sentence naming the file (and the line for .mtx).
#pragma once
#include <cstdint>
#include <string>

#include "base/limits.h"

#include "crossbar/sparse_matrix.h"

namespace stuckat::xbar {

// max_side: the most rows or columns a .mtx size line may declare (a .npy's shape must match its
// bytes, so its size follows its content); past it the file is refused naming --max-dim.
SparseMatrix read_matrix_market(const std::string& path, int64_t max_side = limits::kMaxMatrixSide);
SparseMatrix read_npy_matrix(const std::string& path);
// By extension: .mtx or .npy; anything else is an InputError naming `flag`.
SparseMatrix read_matrix_file(const std::string& path, const std::string& flag,
                              int64_t max_side = limits::kMaxMatrixSide);

}  // namespace stuckat::xbar
