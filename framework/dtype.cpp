// Sizes and names of element types.
#include "framework/dtype.h"

#include "base/error.h"

namespace stuckat {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  throw Error("unknown dtype");
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I16: return "I16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
  }
  throw Error("unknown dtype");
}

bool dtype_from_name(const std::string& name, DType* out) {
  static const DType all[] = {DType::F32, DType::F16, DType::BF16, DType::I16,
                              DType::I32, DType::I64, DType::U8};
  for (DType t : all)
    if (name == dtype_name(t)) {
      *out = t;
      return true;
    }
  return false;
}

}  // namespace stuckat
