// Tensor = shape + strides + offset over reference-counted storage (the ggml/PyTorch model).
// Copying a Tensor copies a handle; views share storage and cost nothing.
//
// Methods that build new tensors (views, arithmetic) are differentiable: they are implemented in
// autograd/ and record how to send gradients back. core/ only knows about memory and math.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/shape.hpp"

namespace nl {

class Generator;
struct Node;
class Tensor;

// A flat, aligned byte buffer shared by every view of it.
struct Storage {
  explicit Storage(std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;  // 64-byte aligned, inside `block`
  std::size_t bytes = 0;

 private:
  void* block = nullptr;  // what malloc returned
};

// Called with a tensor's gradient during backward; may return a replacement (or an undefined
// Tensor to keep it).
using GradHook = std::function<Tensor(const Tensor& grad)>;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape, strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  // Autograd metadata (docs/tensor-and-autograd.md).
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;
  // Set when backward() freed grad_fn: a second backward through here is an error, not a leaf.
  bool graph_freed = false;
  std::vector<GradHook> hooks;  // a leaf's; a computed tensor's hooks live on its grad_fn
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories (core/factories.cpp)
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  static Tensor scalar(double value, DType dtype = DType::f32);
  static Tensor arange(double start, double stop, double step = 1, DType dtype = DType::f32);
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            DType dtype = DType::f32);
  static Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::f32);
  static Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::f32);
  // From the global generator that manual_seed() seeds (core/init.hpp), like torch.randn:
  // one seed makes a whole program reproducible, module initialisation included.
  static Tensor randn(const Shape& shape, DType dtype = DType::f32);
  static Tensor rand(const Shape& shape, DType dtype = DType::f32);

  // ---- metadata
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return numel_of(impl().shape); }
  DType dtype() const { return impl().dtype; }
  bool is_contiguous() const;
  bool shares_storage_with(const Tensor& other) const;
  std::string str() const;  // "float32[2, 3]"

  // Pointer to the first element (storage + offset). T must match dtype().
  template <typename T>
  T* data() const {
    check(dtype_of<T>() == dtype(), "Tensor::data", "requested ", dtype_name(dtype_of<T>()),
          " from a ", dtype_name(dtype()), " tensor");
    return static_cast<T*>(impl().storage->data) + impl().offset;
  }
  // Element access by index (slow; for tests and small tensors).
  double at(const std::vector<int64_t>& index) const;
  double item() const;
  std::vector<double> to_vector() const;  // row-major copy as doubles

  // ---- views (differentiable; autograd/view_ops.cpp)
  Tensor view(const Shape& shape) const;     // contiguous only, no copy
  Tensor reshape(const Shape& shape) const;  // view when possible, else copy
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor expand(const Shape& shape) const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;  // returns *this when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;

  // ---- autograd (autograd/engine.cpp)
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool on = true);
  Tensor grad() const;
  void zero_grad();
  // Shares storage, drops the autograd history: like torch's .detach().
  Tensor detach() const;
  // Accumulates dL/dx into every leaf's grad(). The graph is freed as it is walked, as in
  // PyTorch; retain_graph keeps it for another backward over the same graph. A second backward
  // through a freed graph throws.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  void retain_grad();
  void register_hook(GradHook hook);
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }

  // ---- in-place, never recorded by autograd (for optimizers, initialisers, buffers)
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);  // broadcasts src to this shape; converts dtype

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Builds a tensor over existing storage with the given geometry (no copy).
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

}  // namespace nl
