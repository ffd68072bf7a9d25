// FaultSpec: one stuck-at fault injection request as the user writes it on the command line,
//   --faults layer=conv2,bit=15,stuck=1,rate=0.01,seed=0
// Keys (comma separated key=value, any order, each at most once):
//   layer  a faultable layer name (e.g. conv2, fc1, features.0) or `all`         default all
//   bit    0..15 (0 = LSB, 15 = MSB) or `random` (uniform over the 16, per weight)  required
//   stuck  0, 1, or mix:A:B (SA0:SA1 in ratio A:B, e.g. mix:1.75:9.04)           required
//   rate   fraction of the targeted weights that are faulty, in [0, 1]          required
//   seed   unsigned 64-bit integer                                               default 0
//   target all | nonzero (nonzero: only weights that are nonzero when the map is built, i.e. the
//          survivors of a pruned layer; rate is then a fraction of those)        default all
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stuckat {

struct FaultSpec {
  std::string layer = "all";
  int bit = -1;               // 0..15, or -1 for random
  double sa1_fraction = 1.0;  // P(stuck-at-1 | faulty): stuck=0 -> 0, stuck=1 -> 1, mix:A:B -> B/(A+B)
  double rate = 0.0;          // P(faulty) per targeted weight, [0, 1]
  uint64_t seed = 0;
  bool nonzero_only = false;  // target=nonzero
  std::string stuck_text = "1";  // the stuck value as written ("0", "1", "mix:1.75:9.04"), for reports

  bool random_bit() const { return bit < 0; }
};

// Parses one --faults string. A malformed string, an unknown or repeated key, a missing required
// key or an out-of-range value throws InputError with one sentence naming --faults and the problem.
FaultSpec parse_fault_spec(const std::string& text);

// The canonical string of a spec (all keys), which parse_fault_spec reads back to an equal spec.
std::string fault_spec_string(const FaultSpec& spec);

}  // namespace stuckat
