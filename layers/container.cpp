#include "layers/container.hpp"

#include "autograd/ops.hpp"

namespace nl {

Sequential::Sequential(std::vector<ModulePtr> modules) {
  for (auto& m : modules) push_back(std::move(m));
}

void Sequential::push_back(ModulePtr m) {
  register_module(std::to_string(children().size()), std::move(m));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& [_, m] : children()) y = (*m)(y);
  return y;
}

Dropout::Dropout(double p_, uint64_t seed) : p(p_), generator(seed) {
  check(p >= 0 && p < 1, "Dropout", "p must be in [0, 1), got ", p);
}

Tensor Dropout::forward(const Tensor& x) {
  if (!training_ || p == 0) return x;
  Tensor u = Tensor::rand(x.shape(), generator, x.dtype());
  Tensor keep = u.detach();
  dispatch(x.dtype(), [&]<typename T>() {
    T* k = keep.data<T>();
    const T scale = T(1.0 / (1.0 - p));
    for (int64_t i = 0; i < keep.numel(); ++i) k[i] = k[i] >= T(p) ? scale : T(0);
  });
  return mul(x, keep);
}

}  // namespace nl
