// Launch a kernel templated on the weight-word format, so decode_word's switch folds away in the
// inner loops. CUDA-only header for the quantized layer kernels.
#pragma once
#include <type_traits>

#include "base/weight_format.h"
#include "base/error.h"

namespace stuckat::cuda {

// Calls launch(std::integral_constant<WeightFormatKind, K>{}) for the runtime kind.
template <typename Launch>
void dispatch_word_kind(WeightFormatKind kind, Launch&& launch) {
  switch (kind) {
    case WeightFormatKind::Fixed: return launch(std::integral_constant<WeightFormatKind, WeightFormatKind::Fixed>{});
    case WeightFormatKind::MaxAbs: return launch(std::integral_constant<WeightFormatKind, WeightFormatKind::MaxAbs>{});
    case WeightFormatKind::SignMag:
      return launch(std::integral_constant<WeightFormatKind, WeightFormatKind::SignMag>{});
    case WeightFormatKind::Fp16: return launch(std::integral_constant<WeightFormatKind, WeightFormatKind::Fp16>{});
    case WeightFormatKind::None: break;
  }
  throw Error("quantized layer: the weight format is 'none' (no 16-bit words to read)");
}

}  // namespace stuckat::cuda
