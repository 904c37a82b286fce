#include <cmath>

#include "core/init.hpp"
#include "core/parallel.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"

namespace nl {

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t d : shape) check(d >= 0, "Tensor::empty", "negative size in ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape) * dtype_size(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  return full(shape, 0.0, dtype);
}
Tensor Tensor::ones(const Shape& shape, DType dtype) {
  return full(shape, 1.0, dtype);
}
Tensor Tensor::scalar(double value, DType dtype) {
  return full({}, value, dtype);
}

Tensor Tensor::arange(double start, double stop, double step, DType dtype) {
  check(step != 0, "arange", "step must be non-zero");
  const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((stop - start) / step)));
  Tensor t = empty({n}, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + i * step);
  });
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  check(static_cast<int64_t>(values.size()) == numel_of(shape), "from_vector", values.size(),
        " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}

namespace {
template <typename Draw>
Tensor fill_random(const Shape& shape, Generator& gen, DType dtype, Draw draw) {
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  const uint64_t first = gen.advance(n);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = static_cast<T>(draw(gen, first + i));
    });
  });
  return t;
}
}  // namespace

Tensor Tensor::randn(const Shape& shape, Generator& gen, DType dtype) {
  return fill_random(shape, gen, dtype,
                     [](const Generator& g, uint64_t c) { return g.normal_at(c); });
}
Tensor Tensor::rand(const Shape& shape, Generator& gen, DType dtype) {
  return fill_random(shape, gen, dtype,
                     [](const Generator& g, uint64_t c) { return g.uniform_at(c); });
}

Tensor Tensor::randn(const Shape& shape, DType dtype) {
  return randn(shape, default_generator(), dtype);
}
Tensor Tensor::rand(const Shape& shape, DType dtype) {
  return rand(shape, default_generator(), dtype);
}

}  // namespace nl
