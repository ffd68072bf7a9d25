// Sequential draws, permutations and stream ids on top of Philox.
#include "framework/random.h"

#include <cmath>

namespace stuckat {

uint32_t RandomStream::next_u32() {
  if (used_ == 4) {
    philox_words(seed_, stream_, block_++, words_);
    used_ = 0;
  }
  return words_[used_++];
}

uint32_t RandomStream::next_below(uint32_t n) {
  // Rejection of the top partial range keeps every value equally likely.
  uint32_t limit = static_cast<uint32_t>((0x100000000ull / n) * n - 1);
  for (;;) {
    uint32_t w = next_u32();
    if (w <= limit) return w % n;
  }
}

float RandomStream::next_normal() {
  float u1 = next_uniform();
  float u2 = next_uniform();
  if (u1 < 1e-12f) u1 = 1e-12f;
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.283185307179586f * u2);
}

std::vector<int64_t> random_permutation(int64_t n, uint64_t seed, uint64_t stream) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  RandomStream rng(seed, stream);
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = rng.next_below(static_cast<uint32_t>(i + 1));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

uint64_t stream_id(const char* name) {
  uint64_t h = 1469598103934665603ull;
  for (const char* c = name; *c; ++c) {
    h ^= static_cast<unsigned char>(*c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace stuckat
