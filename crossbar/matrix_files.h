// Matrices from files, for studies beyond CNN layers: Matrix Market coordinate files (real,
// integer or pattern; general) and 2-D NumPy .npy arrays (float32/float64, C order). Rows are
// taken as inputs and columns as outputs, as written in the file. Malformed files throw
// InputError with one sentence naming the file (and the line for .mtx).
#pragma once
#include <string>

#include "crossbar/sparse_matrix.h"

namespace stuckat::xbar {

SparseMatrix read_matrix_market(const std::string& path);
SparseMatrix read_npy_matrix(const std::string& path);
// By extension: .mtx or .npy; anything else is an InputError naming `flag`.
SparseMatrix read_matrix_file(const std::string& path, const std::string& flag);

}  // namespace stuckat::xbar
