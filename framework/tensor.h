// Tensor: a shared storage handle + device + dtype + shape/strides, plus autograd metadata.
// Copying a Tensor copies the handle (like PyTorch); clone() copies the data.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/device.h"
#include "framework/dtype.h"
#include "base/error.h"
#include "framework/storage.h"

namespace stuckat {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "(64, 1, 28, 28)"

class Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // undefined tensor (no storage)

  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor full(const Shape& shape, float value, Device device = Device::CPU);  // f32
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<int32_t>& values, const Shape& shape);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  // Typed pointer to the first element; checks that T matches dtype().
  template <typename T> T* data() const {
    STUCKAT_CHECK(DTypeOf<T>::value == dtype(), "tensor holds {}, asked for {}", dtype_name(dtype()),
                  dtype_name(DTypeOf<T>::value));
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;
  const std::shared_ptr<Storage>& storage() const;

  // Copies (all return new storage unless stated).
  Tensor clone() const;                  // contiguous copy, same device, no autograd history
  Tensor contiguous() const;             // this tensor if already contiguous
  Tensor to(Device device) const;        // this tensor if already there
  Tensor to_dtype(DType dtype) const;    // CPU numeric conversion (f32 <-> integer types)
  void copy_(const Tensor& src);         // elementwise copy into this tensor (same shape)
  void fill_(float value);               // f32 only
  void zero_();

  // Views sharing storage (no copy). reshape/view accept one -1 dimension.
  Tensor view(const Shape& shape) const;  // requires contiguous
  Tensor detach() const;                  // same data, no autograd history

  float item() const;                     // single-element f32 tensor on any device
  std::vector<float> to_vector() const;   // f32 tensor copied to the host in logical order

  // Autograd.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on);
  const Tensor& grad() const;             // undefined until a backward reaches this leaf
  void set_grad(const Tensor& g);
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> fn);
  bool is_leaf() const { return grad_fn() == nullptr; }
  void backward() const;                  // from a scalar loss; seeds d(loss)/d(loss) = 1

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<TensorImpl> impl_;
  friend struct TensorImpl;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::F32;
  AutogradMeta autograd;

  static Tensor wrap(std::shared_ptr<TensorImpl> impl) { return Tensor(std::move(impl)); }
};

Shape contiguous_strides(const Shape& shape);

}  // namespace stuckat
