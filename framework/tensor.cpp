// Tensor construction, views, copies and device transfer.
#include "framework/tensor.h"

#include <cstring>
#include <numeric>

#include "framework/autograd.h"

namespace stuckat {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) STUCKAT_CHECK(d >= 0, "negative dimension in shape {}", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, DType::F32, Device::CPU);
  t.fill_(value);
  return t.to(device);
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  STUCKAT_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "{} values for shape {}",
                values.size(), shape_str(shape));
  Tensor t = empty(shape, DType::F32);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::from_vector(const std::vector<int32_t>& values, const Shape& shape) {
  STUCKAT_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "{} values for shape {}",
                values.size(), shape_str(shape));
  Tensor t = empty(shape, DType::I32);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(int32_t));
  return t;
}

const Shape& Tensor::shape() const {
  STUCKAT_CHECK(defined(), "undefined tensor");
  return impl_->shape;
}
const Shape& Tensor::strides() const { return impl_->strides; }
int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  if (d < 0) d += n;
  STUCKAT_CHECK(d >= 0 && d < n, "dimension {} out of range for shape {}", d, shape_str(shape()));
  return impl_->shape[d];
}
int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const { return impl_->dtype; }
Device Tensor::device() const { return impl_->storage->device(); }
bool Tensor::is_contiguous() const { return impl_->strides == contiguous_strides(impl_->shape); }
void* Tensor::raw_data() const {
  STUCKAT_CHECK(defined(), "undefined tensor");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(dtype_size(impl_->dtype));
}
const std::shared_ptr<Storage>& Tensor::storage() const { return impl_->storage; }

namespace {
// Strided gather of element bytes into a contiguous host buffer (views are rare and small).
void gather_strided(const Tensor& src, char* dst) {
  const size_t es = dtype_size(src.dtype());
  const Shape& shape = src.shape();
  const Shape& strides = src.strides();
  const char* base = static_cast<const char*>(src.raw_data());
  int64_t n = src.numel();
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < shape.size(); ++d) off += idx[d] * strides[d];
    std::memcpy(dst + i * es, base + off * static_cast<int64_t>(es), es);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}
}  // namespace

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  if (is_contiguous()) {
    copy_bytes(out.raw_data(), device(), raw_data(), device(), nbytes());
  } else {
    STUCKAT_CHECK(device() == Device::CPU, "clone of a strided CUDA tensor is not supported");
    gather_strided(*this, static_cast<char*>(out.raw_data()));
  }
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::to(Device target) const {
  if (device() == target) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), dtype(), target);
  copy_bytes(out.raw_data(), target, src.raw_data(), src.device(), nbytes());
  return out;
}

namespace {
template <typename From, typename To> void convert(const From* s, To* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<To>(s[i]);
}
template <typename To> void convert_from(const Tensor& src, To* d) {
  int64_t n = src.numel();
  switch (src.dtype()) {
    case DType::F32: convert(src.data<float>(), d, n); return;
    case DType::I16: convert(src.data<int16_t>(), d, n); return;
    case DType::I32: convert(src.data<int32_t>(), d, n); return;
    case DType::I64: convert(src.data<int64_t>(), d, n); return;
    case DType::U8: convert(src.data<uint8_t>(), d, n); return;
    default: throw Error(fmt::format("to_dtype from {} is not supported", dtype_name(src.dtype())));
  }
}
}  // namespace

Tensor Tensor::to_dtype(DType target) const {
  if (dtype() == target) return *this;
  STUCKAT_CHECK(device() == Device::CPU, "to_dtype runs on the CPU; call to(Device::CPU) first");
  Tensor src = contiguous();
  Tensor out = empty(shape(), target);
  switch (target) {
    case DType::F32: convert_from(src, out.data<float>()); break;
    case DType::I16: convert_from(src, out.data<int16_t>()); break;
    case DType::I32: convert_from(src, out.data<int32_t>()); break;
    case DType::I64: convert_from(src, out.data<int64_t>()); break;
    case DType::U8: convert_from(src, out.data<uint8_t>()); break;
    default: throw Error(fmt::format("to_dtype to {} is not supported", dtype_name(target)));
  }
  return out;
}

void Tensor::copy_(const Tensor& src) {
  STUCKAT_CHECK(shape() == src.shape() && dtype() == src.dtype(), "copy_ from {} {} into {} {}",
                dtype_name(src.dtype()), shape_str(src.shape()), dtype_name(dtype()), shape_str(shape()));
  STUCKAT_CHECK(is_contiguous(), "copy_ into a strided tensor");
  Tensor s = src.device() == Device::CPU ? src.contiguous() : src;
  STUCKAT_CHECK(s.is_contiguous(), "copy_ from a strided CUDA tensor");
  copy_bytes(raw_data(), device(), s.raw_data(), s.device(), nbytes());
}

void Tensor::fill_(float value) {
  STUCKAT_CHECK(dtype() == DType::F32 && is_contiguous(), "fill_ needs a contiguous f32 tensor");
  if (device() == Device::CPU) {
    float* p = data<float>();
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = value;
  } else {
    copy_(full(shape(), value, Device::CPU));
  }
}

void Tensor::zero_() {
  STUCKAT_CHECK(is_contiguous(), "zero_ needs a contiguous tensor");
  if (device() == Device::CPU) {
    std::memset(raw_data(), 0, nbytes());
  } else {
    Tensor z = empty(shape(), dtype(), Device::CPU);
    std::memset(z.raw_data(), 0, z.nbytes());
    copy_(z);
  }
}

Tensor Tensor::view(const Shape& new_shape_in) const {
  STUCKAT_CHECK(is_contiguous(), "view of a strided tensor; call contiguous() first");
  Shape new_shape = new_shape_in;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < new_shape.size(); ++i) {
    if (new_shape[i] == -1) {
      STUCKAT_CHECK(infer < 0, "view shape {} has two -1 dimensions", shape_str(new_shape_in));
      infer = static_cast<int64_t>(i);
    } else {
      known *= new_shape[i];
    }
  }
  if (infer >= 0) {
    STUCKAT_CHECK(known > 0 && numel() % known == 0, "cannot view {} as {}", shape_str(shape()), shape_str(new_shape_in));
    new_shape[infer] = numel() / known;
  }
  STUCKAT_CHECK(shape_numel(new_shape) == numel(), "cannot view {} as {}", shape_str(shape()), shape_str(new_shape_in));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = new_shape;
  impl->strides = contiguous_strides(new_shape);
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

float Tensor::item() const {
  STUCKAT_CHECK(numel() == 1 && dtype() == DType::F32, "item() needs a one-element f32 tensor, got {} {}",
                dtype_name(dtype()), shape_str(shape()));
  float v = 0;
  copy_bytes(&v, Device::CPU, raw_data(), device(), sizeof(float));
  return v;
}

std::vector<float> Tensor::to_vector() const {
  STUCKAT_CHECK(dtype() == DType::F32, "to_vector needs f32, got {}", dtype_name(dtype()));
  Tensor host = to(Device::CPU).contiguous();
  const float* p = host.data<float>();
  return std::vector<float>(p, p + host.numel());
}

bool Tensor::requires_grad() const { return impl_ && impl_->autograd.requires_grad; }
Tensor& Tensor::set_requires_grad(bool on) {
  STUCKAT_CHECK(!on || dtype() == DType::F32, "only f32 tensors can require gradients");
  impl_->autograd.requires_grad = on;
  return *this;
}
const Tensor& Tensor::grad() const { return impl_->autograd.grad; }
void Tensor::set_grad(const Tensor& g) { impl_->autograd.grad = g; }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return impl_->autograd.grad_fn; }
void Tensor::set_grad_fn(std::shared_ptr<Node> fn) { impl_->autograd.grad_fn = std::move(fn); }
void Tensor::backward() const { run_backward(*this); }

}  // namespace stuckat
