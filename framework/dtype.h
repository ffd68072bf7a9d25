// Element types a tensor can hold. f32 is the compute type; i16 holds quantized weight words,
// u8 raw pixels, i32 labels and indices; f16/bf16/i64 exist for checkpoint interchange.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace stuckat {

enum class DType : uint8_t { F32, F16, BF16, I16, I32, I64, U8 };

size_t dtype_size(DType t);
// Safetensors spelling: "F32", "F16", "BF16", "I16", "I32", "I64", "U8".
const char* dtype_name(DType t);
// Inverse of dtype_name; returns false for an unknown name.
bool dtype_from_name(const std::string& name, DType* out);

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::I16; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };

}  // namespace stuckat
