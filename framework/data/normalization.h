// Per-dataset normalisation constants: x = (pixel / 255 - mean) / std, per channel. They live in
// one header so the Python benchmark scripts can read the same numbers instead of keeping a copy
// that could drift: every constant is one line `inline constexpr double kName = value;` or
// `inline constexpr double kName[3] = {a, b, c};`, e.g. matched by the regex
// r"inline constexpr double (k\w+)(?:\[3\])? = \{?([0-9., ]+)\}?;".
#pragma once

namespace stuckat {

// Mean and standard deviation of pixel / 255 over each training split: the values the PyTorch
// examples for these datasets use, so accuracies stay comparable with published ones.
inline constexpr double kFashionMnistMean = 0.2860;
inline constexpr double kFashionMnistStd = 0.3530;
inline constexpr double kMnistMean = 0.1307;
inline constexpr double kMnistStd = 0.3081;
inline constexpr double kCifar10Mean[3] = {0.4914, 0.4822, 0.4465};  // R, G, B
inline constexpr double kCifar10Std[3] = {0.2470, 0.2435, 0.2616};
// Synthetic pixels spread roughly uniformly over 0..255: mean 1/2, std 1/sqrt(12).
inline constexpr double kSyntheticMean = 0.5;
inline constexpr double kSyntheticStd = 0.2887;

// The constants of one dataset in the shape the image transform uses.
struct ChannelNormalization {
  int channels;    // 1 or 3; a grayscale set's constants apply to every (replicated) channel
  double mean[3];  // in units of pixel / 255
  double std[3];
};

inline constexpr ChannelNormalization kFashionMnistNormalization = {1, {kFashionMnistMean}, {kFashionMnistStd}};
inline constexpr ChannelNormalization kMnistNormalization = {1, {kMnistMean}, {kMnistStd}};
inline constexpr ChannelNormalization kCifar10Normalization = {
    3, {kCifar10Mean[0], kCifar10Mean[1], kCifar10Mean[2]}, {kCifar10Std[0], kCifar10Std[1], kCifar10Std[2]}};
inline constexpr ChannelNormalization kSyntheticNormalization = {1, {kSyntheticMean}, {kSyntheticStd}};

}  // namespace stuckat
