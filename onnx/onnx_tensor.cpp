#include "onnx/onnx_tensor.h"

#include <cstring>

#include "base/error.h"

namespace stuckat {
namespace {

constexpr int64_t kMaxElements = int64_t(1) << 31;  // 8 GiB of f32: past the 2 GiB file limit anyway

}  // namespace

Tensor tensor_from_onnx(const onnx::TensorProto& t, const std::string& what) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    throw_input_error("{} keeps its data in an external file; export with the weights inside the .onnx file", what);
  const int type = t.data_type();
  const bool f32 = type == onnx::TensorProto::FLOAT, i64 = type == onnx::TensorProto::INT64, i32 = type == onnx::TensorProto::INT32;
  const bool boolean = type == onnx::TensorProto::BOOL;  // read as int64 0 / 1 (e.g. Dropout's training_mode)
  if (!f32 && !i64 && !i32 && !boolean)
    throw_input_error("{} has element type {}; stuckat reads float32, int64, int32 and bool tensors", what, type);
  Shape shape;
  int64_t numel = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && numel > kMaxElements / d)) throw_input_error("{} has dimensions out of range", what);
    shape.push_back(d);
    numel *= d;
  }
  const size_t elem = boolean ? 1 : f32 || i32 ? 4 : 8;
  const bool raw = t.has_raw_data();
  const int64_t typed = f32 ? t.float_data_size() : i64 ? t.int64_data_size() : t.int32_data_size();  // bools: int32_data
  const int64_t have = raw ? static_cast<int64_t>(t.raw_data().size() / elem) : typed;
  if ((raw && t.raw_data().size() % elem != 0) || have != numel)
    throw_input_error("{} declares {} elements ({}) but holds {}", what, numel, shape_str(shape), have);
  Tensor out = Tensor::empty(shape, f32 ? DType::F32 : DType::I64);
  if (f32) {
    float* dst = out.data<float>();
    if (raw) std::memcpy(dst, t.raw_data().data(), static_cast<size_t>(numel) * 4);
    else std::copy(t.float_data().begin(), t.float_data().end(), dst);
  } else if (i64) {
    int64_t* dst = out.data<int64_t>();
    if (raw) std::memcpy(dst, t.raw_data().data(), static_cast<size_t>(numel) * 8);
    else std::copy(t.int64_data().begin(), t.int64_data().end(), dst);
  } else {
    int64_t* dst = out.data<int64_t>();
    for (int64_t k = 0; k < numel; ++k) {
      int32_t v = 0;
      if (raw && boolean) v = t.raw_data()[static_cast<size_t>(k)] != 0;
      else if (raw) std::memcpy(&v, t.raw_data().data() + k * 4, 4);
      else v = t.int32_data(static_cast<int>(k));
      dst[k] = boolean ? (v != 0) : v;
    }
  }
  return out;
}

void tensor_to_onnx(const Tensor& t_in, const std::string& name, onnx::TensorProto& out) {
  const Tensor t = t_in.to(Device::CPU).contiguous();
  out.set_name(name);
  for (int64_t d : t.shape()) out.add_dims(d);
  STUCKAT_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::I64, "tensor_to_onnx: {} is {}", name, dtype_name(t.dtype()));
  out.set_data_type(t.dtype() == DType::F32 ? onnx::TensorProto::FLOAT : onnx::TensorProto::INT64);
  out.set_raw_data(std::string(static_cast<const char*>(t.raw_data()), static_cast<size_t>(t.numel()) * (t.dtype() == DType::F32 ? 4 : 8)));
}

}  // namespace stuckat
