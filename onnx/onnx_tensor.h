// ONNX TensorProto <-> Tensor: float32 and int64 (int32 widened to int64), data raw or typed,
// every size checked against the data before anything is allocated.
#pragma once
#include <onnx/onnx_pb.h>

#include <string>

#include "framework/tensor.h"

namespace stuckat {

// Throws InputError starting with `what` for external data, an unsupported element type,
// negative or overflowing dimensions, or data that does not hold the declared elements.
Tensor tensor_from_onnx(const onnx::TensorProto& t, const std::string& what);

// Writes `t` (f32 or i64, any device) as raw little-endian data.
void tensor_to_onnx(const Tensor& t, const std::string& name, onnx::TensorProto& out);

}  // namespace stuckat
