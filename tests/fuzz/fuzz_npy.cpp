// NumPy .npy arrays (2-D float32/float64), read and counted onto 8 x 8 tiles.
#include "crossbar/matrix_files.h"
#include "crossbar/tile_counts.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stuckat;
  const std::string path = fuzz::input_file(data, size, "m.npy");
  fuzz::refuse_or_read([&] {
    const xbar::SparseMatrix m = xbar::read_npy_matrix(path);
    (void)xbar::count_tiles(m, xbar::TileShape{8, 8});
  });
  return 0;
}
