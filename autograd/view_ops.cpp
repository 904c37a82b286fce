// Differentiable views. Each builds new geometry over the same storage (no copy) and records the
// inverse movement for the gradient: permute <-> inverse permute, narrow <-> zero-pad,
// expand <-> sum, reshape <-> reshape back.
#include <algorithm>
#include <numeric>

#include "autograd/node.hpp"
#include "core/kernels.hpp"

namespace nl {
namespace {

// Strides for viewing `t` as `shape` without copying, or empty if impossible.
std::vector<int64_t> view_strides(const Tensor& t, const Shape& shape) {
  if (t.is_contiguous()) return contiguous_strides(shape);
  return {};
}

Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      check(infer < 0, op, "only one dimension can be -1 in ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      check(out[i] >= 0, op, "invalid size in ", shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    check(known > 0 && numel % known == 0, op, "cannot infer -1 in ", shape_str(shape), " for ",
          numel, " elements");
    out[infer] = numel / known;
  }
  check(numel_of(out) == numel, op, "shape ", shape_str(shape), " is invalid for ", numel,
        " elements");
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& shape_in) const {
  const Shape shape = infer_shape(shape_in, numel(), "view");
  auto strides = view_strides(*this, shape);
  check(!strides.empty() || shape.empty(), "view", "tensor ", str(),
        " is not contiguous; use reshape() (which copies) or contiguous() first");
  Tensor out = make_view(*this, shape, contiguous_strides(shape), offset());
  const Shape in_shape = this->shape();
  return record(out, "view", {*this}, [in_shape](const Tensor& g) {
    return std::vector<Tensor>{g.contiguous().view(in_shape)};
  });
}

Tensor Tensor::reshape(const Shape& shape) const {
  return is_contiguous() ? view(shape) : contiguous().view(shape);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  const int64_t s = wrap_axis(start_dim, dim(), "flatten"),
                e = wrap_axis(end_dim, dim(), "flatten");
  check(s <= e, "flatten", "start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape out(shape().begin(), shape().begin() + s);
  int64_t mid = 1;
  for (int64_t d = s; d <= e; ++d) mid *= shape()[d];
  out.push_back(mid);
  out.insert(out.end(), shape().begin() + e + 1, shape().end());
  return reshape(out);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  check(static_cast<int64_t>(dims.size()) == dim(), "permute", "got ", dims.size(),
        " dims for a tensor of shape ", shape_str(shape()));
  std::vector<int64_t> p(dims.size()), inverse(dims.size());
  std::vector<bool> used(dims.size(), false);
  Shape sh(dims.size()), st(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    p[i] = wrap_axis(dims[i], dim(), "permute");
    check(!used[p[i]], "permute", "axis ", p[i], " appears twice");
    used[p[i]] = true;
    sh[i] = shape()[p[i]];
    st[i] = strides()[p[i]];
    inverse[p[i]] = static_cast<int64_t>(i);
  }
  return record(make_view(*this, sh, st, offset()), "permute", {*this},
                [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; });
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  std::vector<int64_t> p(dim());
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[wrap_axis(a, dim(), "transpose")], p[wrap_axis(b, dim(), "transpose")]);
  return permute(p);
}

Tensor Tensor::narrow(int64_t d_in, int64_t start, int64_t length) const {
  const int64_t d = wrap_axis(d_in, dim(), "narrow");
  check(start >= 0 && length >= 0 && start + length <= shape()[d], "narrow", "range [", start, ", ",
        start + length, ") is outside dimension ", d, " of size ", shape()[d]);
  Shape sh = shape();
  sh[d] = length;
  Tensor out = make_view(*this, sh, strides(), offset() + start * strides()[d]);
  const Shape in_shape = shape();
  const DType dt = dtype();
  return record(out, "narrow", {*this}, [=](const Tensor& g) {
    Tensor full = Tensor::zeros(in_shape, dt);
    full.narrow(d, start, length).copy_(g);
    return std::vector<Tensor>{full};
  });
}

Tensor Tensor::expand(const Shape& target) const {
  check(static_cast<int64_t>(target.size()) >= dim(), "expand", "cannot expand ",
        shape_str(shape()), " to fewer dimensions ", shape_str(target));
  const int64_t lead = static_cast<int64_t>(target.size()) - dim();
  Shape st(target.size(), 0);
  for (int64_t d = 0; d < dim(); ++d) {
    const int64_t want = target[lead + d];
    check(shape()[d] == want || shape()[d] == 1, "expand", "cannot expand ", shape_str(shape()),
          " to ", shape_str(target));
    st[lead + d] = shape()[d] == want ? strides()[d] : 0;
  }
  const Shape in_shape = shape();
  return record(
      make_view(*this, target, st, offset()), "expand", {*this},
      [in_shape](const Tensor& g) { return std::vector<Tensor>{kernels::sum_to(g, in_shape)}; });
}

Tensor Tensor::squeeze(int64_t d_in) const {
  const int64_t d = wrap_axis(d_in, dim(), "squeeze");
  check(shape()[d] == 1, "squeeze", "dimension ", d, " has size ", shape()[d], ", not 1");
  Shape sh = shape(), st = strides();
  sh.erase(sh.begin() + d);
  st.erase(st.begin() + d);
  return record(make_view(*this, sh, st, offset()), "squeeze", {*this},
                [d](const Tensor& g) { return std::vector<Tensor>{g.unsqueeze(d)}; });
}

Tensor Tensor::unsqueeze(int64_t d_in) const {
  const int64_t d = wrap_axis(d_in, dim() + 1, "unsqueeze");
  Shape sh = shape(), st = strides();
  const int64_t stride = d < dim() ? shape()[d] * strides()[d] : 1;
  sh.insert(sh.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return record(make_view(*this, sh, st, offset()), "unsqueeze", {*this},
                [d](const Tensor& g) { return std::vector<Tensor>{g.squeeze(d)}; });
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype());
  out.copy_(*this);
  return record(out, "clone", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = Tensor::empty(shape(), target);
  out.copy_(*this);
  const DType source = dtype();
  return record(out, "to", {*this},
                [source](const Tensor& g) { return std::vector<Tensor>{g.to(source)}; });
}

}  // namespace nl
