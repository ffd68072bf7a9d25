// ONNX conformance against the test suite the ONNX project ships (Debian's libonnx-testdata:
// node/, pytorch-converted/, pytorch-operator/, simple/; each case a model.onnx and
// test_data_set_*/input_*.pb, output_*.pb). Every case whose ops stuckat supports runs and must
// match the stored outputs (|got - want| <= 1e-4 |want| + 1e-5 in f32); the others are listed as
// skipped with the reason. STUCKAT_ONNX_REPORT=FILE writes the per-case list as Markdown.
#include <catch2/catch.hpp>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/error.h"
#include "framework/autograd.h"
#include "models/graph_model.h"
#include "onnx/onnx_import.h"
#include "onnx/onnx_tensor.h"

using namespace stuckat;
namespace fs = std::filesystem;

namespace {

std::string data_dir() {
  const char* env = std::getenv("STUCKAT_ONNX_TESTDATA");
  return env ? env : "/usr/share/libonnx-testdata/data";
}

Tensor read_pb(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  onnx::TensorProto t;
  if (!t.ParseFromString(ss.str())) throw_input_error("{}: not a TensorProto", p.string());
  return tensor_from_onnx(t, p.string());
}

struct Outcome {
  std::string suite, name, result, detail;
};

// "pass", "FAIL" (with the worst element) or "skipped" (with the reason).
Outcome run_case(const fs::path& dir) {
  Outcome o{dir.parent_path().filename().string(), dir.filename().string(), "skipped", ""};
  GraphSpec spec;
  std::unique_ptr<GraphModel> model;
  try {
    spec = read_onnx_graph((dir / "model.onnx").string());
    fold_shape_constants(spec, dir.string());
    name_layer_weights(spec);
    model = std::make_unique<GraphModel>(spec, dir.string());
  } catch (const InputError& e) {
    const std::string msg = e.what();
    const size_t at = msg.find(" is not supported");
    o.detail = at != std::string::npos ? "unsupported: " + msg.substr(msg.rfind(": ", at) + 2, at - msg.rfind(": ", at) - 2)
                                       : msg.substr(msg.find(": ") + 2);
    return o;
  }
  model->eval();
  NoGradGuard no_grad;
  int sets = 0;
  double worst = 0;
  for (const auto& set : fs::directory_iterator(dir)) {
    if (!set.is_directory() || set.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
    std::vector<Tensor> inputs, want;
    try {
      for (size_t i = 0; fs::exists(set.path() / ("input_" + std::to_string(i) + ".pb")); ++i)
        inputs.push_back(read_pb(set.path() / ("input_" + std::to_string(i) + ".pb")));
      for (size_t i = 0; fs::exists(set.path() / ("output_" + std::to_string(i) + ".pb")); ++i)
        want.push_back(read_pb(set.path() / ("output_" + std::to_string(i) + ".pb")));
    } catch (const InputError& e) {
      o.detail = std::string("test data: ") + e.what();
      o.detail = o.detail.substr(o.detail.rfind(": ") + 2);
      return o;
    }
    std::vector<Tensor> got;
    try {
      got = model->forward_all(inputs);
    } catch (const InputError& e) {
      // A form of a supported op that stuckat refuses (e.g. Gather of float data) is a skip.
      const std::string msg = e.what();
      const bool refused = msg.find("not supported") != std::string::npos;
      o.result = refused ? "skipped" : "FAIL";
      o.detail = refused ? "unsupported: " + msg.substr(msg.rfind(": ", msg.find("not supported")) + 2) : msg;
      return o;
    }
    if (got.size() < want.size()) {
      o.result = "FAIL";
      o.detail = fmt::format("{} outputs, {} expected", got.size(), want.size());
      return o;
    }
    for (size_t k = 0; k < want.size(); ++k) {
      const Tensor g = got[k].to(Device::CPU).contiguous(), w = want[k];
      if (g.shape() != w.shape() || g.dtype() != w.dtype()) {
        o.result = "FAIL";
        o.detail = fmt::format("output {}: {} {} vs {} {}", k, dtype_name(g.dtype()), shape_str(g.shape()),
                               dtype_name(w.dtype()), shape_str(w.shape()));
        return o;
      }
      for (int64_t e = 0; e < w.numel(); ++e) {
        const double a = w.dtype() == DType::F32 ? g.data<float>()[e] : double(g.data<int64_t>()[e]);
        const double b = w.dtype() == DType::F32 ? w.data<float>()[e] : double(w.data<int64_t>()[e]);
        const bool both_nan = std::isnan(a) && std::isnan(b);
        const double err = both_nan ? 0 : std::abs(a - b) / (1e-5 / 1e-4 + std::abs(b));  // in units of rtol
        if (!(err <= 1e-4) && !both_nan) {
          o.result = "FAIL";
          o.detail = fmt::format("output {} element {}: {} vs {}", k, e, a, b);
          return o;
        }
        worst = std::max(worst, err);
      }
    }
    ++sets;
  }
  o.result = sets > 0 ? "pass" : "skipped";
  o.detail = sets > 0 ? fmt::format("{} data set(s), worst relative error {:.1e}", sets, worst) : "no test data";
  return o;
}

}  // namespace

TEST_CASE("ONNX conformance: every supported case of the ONNX test suite matches its stored outputs", "[onnx]") {
  const fs::path root = data_dir();
  INFO("ONNX test data in " << root.string() << " (Debian's libonnx-testdata; STUCKAT_ONNX_TESTDATA overrides)");
  REQUIRE(fs::is_directory(root / "node"));
  std::vector<Outcome> outcomes;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    std::vector<fs::path> cases;
    if (!fs::is_directory(root / suite)) continue;
    for (const auto& c : fs::directory_iterator(root / suite))
      if (fs::exists(c.path() / "model.onnx")) cases.push_back(c.path());
    std::sort(cases.begin(), cases.end());
    for (const fs::path& c : cases) outcomes.push_back(run_case(c));
  }
  std::map<std::string, int> count;
  for (const Outcome& o : outcomes) ++count[o.result];
  std::printf("ONNX conformance: %d cases: %d pass, %d FAIL, %d skipped\n", int(outcomes.size()), count["pass"], count["FAIL"],
              count["skipped"]);
  for (const Outcome& o : outcomes)
    if (o.result == "FAIL") std::printf("  FAIL %s/%s: %s\n", o.suite.c_str(), o.name.c_str(), o.detail.c_str());
  if (const char* report = std::getenv("STUCKAT_ONNX_REPORT")) {
    std::ofstream md(report);
    md << "| suite | case | result | detail |\n|---|---|---|---|\n";
    for (const Outcome& o : outcomes) md << "| " << o.suite << " | " << o.name << " | " << o.result << " | " << o.detail << " |\n";
  }
  CHECK(count["FAIL"] == 0);
  CHECK(count["pass"] > 0);
}
