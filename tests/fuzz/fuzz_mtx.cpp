// Matrix Market coordinate files, read and counted onto 8 x 8 tiles (the path `xbar --matrix`
// takes); sides are capped lower than the default so each run stays small.
#include "crossbar/matrix_files.h"
#include "crossbar/tile_counts.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stuckat;
  const std::string path = fuzz::input_file(data, size, "m.mtx");
  fuzz::refuse_or_read([&] {
    const xbar::SparseMatrix m = xbar::read_matrix_market(path, 1 << 16);
    (void)xbar::count_tiles(m, xbar::TileShape{8, 8});
  });
  return 0;
}
