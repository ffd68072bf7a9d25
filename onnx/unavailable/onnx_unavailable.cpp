// The ONNX entry points of a build without libonnx-dev: each refuses with one sentence.
#include "base/error.h"
#include "onnx/onnx_import.h"

namespace stuckat {
namespace {
[[noreturn]] void unavailable(const std::string& path) {
  throw_input_error("{}: this stuckat was built without ONNX support (install Debian's libonnx-dev and rebuild)", path);
}
}  // namespace

bool is_onnx_path(const std::string& path) { return path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0; }
GraphSpec read_onnx_graph(const std::string& path) { unavailable(path); }
void fold_shape_constants(GraphSpec&, const std::string& where) { unavailable(where); }
std::shared_ptr<GraphModel> import_onnx(const std::string& path) { unavailable(path); }

}  // namespace stuckat
