// Synthetic prototype-plus-noise images (see synthetic.h).
#include "framework/data/synthetic.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "framework/random.h"

namespace stuckat {
namespace {

// Zero-mean, unit-variance, bell-shaped noise from one 32-bit word: the sum of its four bytes
// (Irwin-Hall, close to a Gaussian). Box-Muller (two draws, log, cos per pixel) took 26 s for a
// CIFAR-sized 50000 x 3x32x32 set on two busy cores; one Philox block per four pixels takes ~1 s.
inline float bell_noise(uint32_t w) {
  // Each byte is uniform on 0..255: mean 127.5, variance (256^2 - 1) / 12; four of them sum to
  // mean 510 and standard deviation sqrt((256^2 - 1) / 3) = 147.80.
  constexpr float kInvStd = 1.0f / 147.8006f;
  float sum = static_cast<float>((w & 0xff) + ((w >> 8) & 0xff) + ((w >> 16) & 0xff) + (w >> 24));
  return (sum - 510.0f) * kInvStd;
}

constexpr uint64_t kNoiseCounterBase = uint64_t{1} << 32;

}  // namespace

RawImages make_synthetic_images(int64_t count, int64_t channels, int64_t size, uint64_t seed, SyntheticSplit split) {
  STUCKAT_CHECK(count >= 0 && channels > 0 && size > 0, "synthetic shape ({}, {}, {}, {})", count, channels, size,
                size);
  RawImages out;
  out.count = count;
  out.channels = channels;
  out.height = size;
  out.width = size;
  const int64_t image_bytes = out.image_bytes();

  // Prototypes depend on the seed only, so both splits see the same classes.
  std::vector<float> prototypes(static_cast<size_t>(kSyntheticClasses * image_bytes));
  RandomStream prototype_rng(seed, stream_id("synthetic/prototypes"));
  for (float& p : prototypes) p = prototype_rng.next_uniform(0.0f, 255.0f);

  out.pixels.resize(static_cast<size_t>(count * image_bytes));
  out.labels.resize(static_cast<size_t>(count));
  // One stream per sample keeps the data independent of the thread schedule.
  const uint64_t split_stream = stream_id(split == SyntheticSplit::Train ? "synthetic/train" : "synthetic/test");
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t stream = split_stream + static_cast<uint64_t>(i);
    RandomStream rng(seed, stream);
    uint32_t label = rng.next_below(kSyntheticClasses);
    out.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(label);
    const float* prototype = prototypes.data() + label * image_bytes;
    uint8_t* dst = out.pixels.data() + i * image_bytes;
    // Noise words come straight from Philox, four pixels per block, at counters far above the
    // few the label draw can use, so the two never overlap.
    for (int64_t k0 = 0; k0 < image_bytes; k0 += 4) {
      uint32_t words[4];
      philox_words(seed, stream, kNoiseCounterBase + static_cast<uint64_t>(k0 / 4), words);
      for (int64_t k = k0; k < std::min(k0 + 4, image_bytes); ++k) {
        float v = prototype[k] + kSyntheticNoiseStd * bell_noise(words[k - k0]);
        dst[k] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f) + 0.5f);  // round to nearest; v >= 0
      }
    }
  }
  return out;
}

}  // namespace stuckat
