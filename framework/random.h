// Counter-based random numbers (Philox4x32-10): the value at (key, counter) never depends on
// how many numbers were drawn before, on thread count or on device, so a seed gives the same
// initialisation, shuffle and fault map everywhere.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "base/host_device.h"

namespace stuckat {

struct Philox4x32 {
  // 10 rounds of Philox4x32 on one 128-bit counter with a 64-bit key.
  STUCKAT_HD static void block(uint32_t ctr[4], const uint32_t key_in[2]) {
    uint32_t k0 = key_in[0], k1 = key_in[1];
    for (int r = 0; r < 10; ++r) {
      uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * ctr[0];
      uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * ctr[2];
      uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
      uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
      uint32_t n0 = hi1 ^ ctr[1] ^ k0, n2 = hi0 ^ ctr[3] ^ k1;
      ctr[0] = n0;
      ctr[1] = lo1;
      ctr[2] = n2;
      ctr[3] = lo0;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
  }
};

// Four 32-bit words for (seed, stream, index): `stream` separates uses (init of one tensor,
// shuffle of one epoch, faults of one layer), `index` the position inside that use.
STUCKAT_HD inline void philox_words(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]) {
  uint32_t key[2] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  out[0] = static_cast<uint32_t>(index);
  out[1] = static_cast<uint32_t>(index >> 32);
  out[2] = static_cast<uint32_t>(stream);
  out[3] = static_cast<uint32_t>(stream >> 32);
  Philox4x32::block(out, key);
}

// Uniform in [0, 1) with 24 random bits (exactly representable in f32).
STUCKAT_HD inline float uniform_from_word(uint32_t w) { return static_cast<float>(w >> 8) * (1.0f / 16777216.0f); }

// Sequential generator over one (seed, stream): the n-th draw is a pure function of n.
class RandomStream {
 public:
  RandomStream(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}
  uint32_t next_u32();
  float next_uniform() { return uniform_from_word(next_u32()); }  // [0, 1)
  float next_uniform(float lo, float hi) { return lo + (hi - lo) * next_uniform(); }
  uint32_t next_below(uint32_t n);  // uniform integer in [0, n), unbiased
  float next_normal();              // standard normal (Box-Muller)

 private:
  uint64_t seed_, stream_;
  uint64_t block_ = 0;
  uint32_t words_[4] = {0, 0, 0, 0};
  int used_ = 4;
};

// Fisher-Yates permutation of 0..n-1 from one stream.
std::vector<int64_t> random_permutation(int64_t n, uint64_t seed, uint64_t stream);

// A stable 64-bit stream id from a name (FNV-1a), e.g. a parameter name for its init.
uint64_t stream_id(const char* name);

}  // namespace stuckat
