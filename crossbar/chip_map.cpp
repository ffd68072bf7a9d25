// Measured cell states (crossbar/chip_map.h).
#include "crossbar/chip_map.h"

#include <cstring>

#include "base/error.h"
#include "crossbar/chip_model.h"
#include "framework/io/safetensors.h"

namespace stuckat::xbar {

ChipMap read_chip_map(const std::string& path, const std::string& flag) {
  const SafetensorsContent content = read_safetensors(path);
  const Tensor* states = nullptr;
  for (const auto& [name, t] : content.tensors)
    if (name == "cell_states") states = &t;
  if (states == nullptr)
    throw_input_error("{} {}: no tensor \"cell_states\" (U8, tiles x rows x cells per wordline; 0 ok, 1 HRS/SA0, 2 LRS/SA1)",
                      flag, path);
  if (states->dtype() != DType::U8 || states->dim() != 3)
    throw_input_error("{} {}: \"cell_states\" must be U8 of shape [tiles, rows, cells per wordline], got {} of rank {}", flag,
                      path, dtype_name(states->dtype()), states->dim());
  ChipMap map;
  map.path = path;
  map.tiles = states->size(0);
  map.rows = states->size(1);
  map.cols = states->size(2);
  if (map.tiles < 1 || map.rows < 1 || map.cols < 1)
    throw_input_error("{} {}: \"cell_states\" is empty ({} x {} x {})", flag, path, map.tiles, map.rows, map.cols);
  map.states.resize(size_t(map.tiles * map.rows * map.cols));
  std::memcpy(map.states.data(), states->contiguous().raw_data(), map.states.size());
  for (size_t i = 0; i < map.states.size(); ++i)
    if (map.states[i] > kCellSa1) {
      const int64_t plane = map.rows * map.cols;
      throw_input_error("{} {}: tile {} wordline {} cell {} has state {}; expected 0 (ok), 1 (HRS, SA0) or 2 (LRS, SA1)", flag,
                        path, int64_t(i) / plane, int64_t(i) % plane / map.cols, int64_t(i) % map.cols, int(map.states[i]));
    }
  return map;
}

void write_chip_map(const std::string& path, const ChipMap& map) {
  Tensor t = Tensor::empty({map.tiles, map.rows, map.cols}, DType::U8);
  std::memcpy(t.raw_data(), map.states.data(), map.states.size());
  write_safetensors(path, {{"cell_states", t}}, {{"format", "stuckat chip map"}});
}

}  // namespace stuckat::xbar
