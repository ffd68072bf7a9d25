// A synthetic, learnable image classification set for tests and benchmarks that must run
// without any download: each of the 10 classes has a fixed random prototype image and every
// sample is its class prototype plus near-Gaussian noise, so a small model's loss goes down on it.
#pragma once
#include <cstdint>

#include "framework/data/raw_images.h"

namespace stuckat {

inline constexpr int kSyntheticClasses = 10;
inline constexpr float kSyntheticNoiseStd = 48.0f;  // grey levels (std of the noise); prototypes are uniform in 0..255

// Which split a sample belongs to; train and test share the prototypes but never a sample.
enum class SyntheticSplit { Train, Test };

// Images (count, channels, size, size) and labels in 0..9. A pure function of
// (seed, split, sample index): the same seed gives the same bytes on any machine and thread count.
RawImages make_synthetic_images(int64_t count, int64_t channels, int64_t size, uint64_t seed, SyntheticSplit split);

}  // namespace stuckat
