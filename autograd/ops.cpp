// Forward + backward of the core math ops. Notation: g = dL/dout; each lambda returns dL/dinput.
// Broadcasting is undone with sum_to, so d(a + b)/db for b of shape [C] sums over the rest.
#include "autograd/ops.hpp"

#include "autograd/node.hpp"
#include "core/kernels.hpp"

namespace nl {

using kernels::Binary;
using kernels::Unary;
using Grads = std::vector<Tensor>;

namespace {
Tensor bin(Binary op, const Tensor& a, const Tensor& b) {
  return kernels::binary(op, a, b);
}
Tensor un(Unary op, const Tensor& a, double p = 0) {
  return kernels::unary(op, a, p);
}
Tensor to_shape(const Tensor& g, const Tensor& like) {
  return kernels::sum_to(g, like.shape());
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return record(bin(Binary::add, a, b), "add", {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& g) {
                  return Grads{kernels::sum_to(g, sa), kernels::sum_to(g, sb)};
                });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return record(bin(Binary::sub, a, b), "sub", {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& g) {
                  return Grads{kernels::sum_to(g, sa), kernels::sum_to(un(Unary::neg, g), sb)};
                });
}

// d(ab)/da = b, d(ab)/db = a
Tensor mul(const Tensor& a, const Tensor& b) {
  return record(
      bin(Binary::mul, a, b), "mul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
        return Grads{to_shape(bin(Binary::mul, g, b), a), to_shape(bin(Binary::mul, g, a), b)};
      });
}

// d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
Tensor div(const Tensor& a, const Tensor& b) {
  return record(bin(Binary::div, a, b), "div", {a, b},
                [a = a.detach(), b = b.detach()](const Tensor& g) {
                  Tensor ga = bin(Binary::div, g, b);
                  Tensor gb = un(Unary::neg, bin(Binary::div, bin(Binary::mul, ga, a), b));
                  return Grads{to_shape(ga, a), to_shape(gb, b)};
                });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  return record(bin(Binary::maximum, a, b), "maximum", {a, b},
                [a = a.detach(), b = b.detach()](const Tensor& g) {
                  Tensor mask = bin(Binary::ge, a, b);
                  Tensor ga = bin(Binary::mul, g, mask);
                  return Grads{to_shape(ga, a), to_shape(bin(Binary::sub, g, ga), b)};
                });
}

// d clamp(a, lo, hi) = 1 where lo < a < hi, else 0 (clipped values pass no gradient).
Tensor clamp(const Tensor& a, double lo, double hi) {
  check(lo <= hi, "clamp", "lo = ", lo, " is above hi = ", hi);
  Tensor out =
      kernels::binary_scalar(Binary::minimum, kernels::binary_scalar(Binary::maximum, a, lo), hi);
  return record(out, "clamp", {a}, [a = a.detach(), lo, hi](const Tensor& g) {
    // PyTorch's convention: the gradient passes on the bounds too (lo <= a <= hi), so a value
    // sitting on a bound (a blend weight initialised to 1) can still move inwards.
    const Tensor inside = bin(Binary::mul, kernels::binary_scalar(Binary::ge, a, lo),
                              kernels::binary_scalar(Binary::le, a, hi));
    return Grads{bin(Binary::mul, g, inside)};
  });
}

Tensor add(const Tensor& a, double s) {
  return record(kernels::binary_scalar(Binary::add, a, s), "add_scalar", {a},
                [](const Tensor& g) { return Grads{g}; });
}

Tensor mul(const Tensor& a, double s) {
  return record(kernels::binary_scalar(Binary::mul, a, s), "mul_scalar", {a},
                [s](const Tensor& g) { return Grads{kernels::binary_scalar(Binary::mul, g, s)}; });
}

Tensor neg(const Tensor& a) {
  return record(un(Unary::neg, a), "neg", {a},
                [](const Tensor& g) { return Grads{un(Unary::neg, g)}; });
}

// d exp(a) = exp(a)
Tensor exp(const Tensor& a) {
  Tensor out = un(Unary::exp, a);
  return record(out, "exp", {a},
                [y = out.detach()](const Tensor& g) { return Grads{bin(Binary::mul, g, y)}; });
}

// d log(a) = 1/a
Tensor log(const Tensor& a) {
  return record(un(Unary::log, a), "log", {a},
                [a = a.detach()](const Tensor& g) { return Grads{bin(Binary::div, g, a)}; });
}

// d sqrt(a) = 1 / (2 sqrt(a))
Tensor sqrt(const Tensor& a) {
  Tensor out = un(Unary::sqrt, a);
  return record(out, "sqrt", {a}, [y = out.detach()](const Tensor& g) {
    return Grads{kernels::binary_scalar(Binary::mul, bin(Binary::div, g, y), 0.5)};
  });
}

Tensor abs(const Tensor& a) {
  return record(un(Unary::abs, a), "abs", {a}, [a = a.detach()](const Tensor& g) {
    return Grads{bin(Binary::mul, g, un(Unary::sign, a))};
  });
}

Tensor square(const Tensor& a) {
  return record(un(Unary::square, a), "square", {a}, [a = a.detach()](const Tensor& g) {
    return Grads{kernels::binary_scalar(Binary::mul, bin(Binary::mul, g, a), 2.0)};
  });
}

// d a^p = p a^(p-1)
Tensor pow(const Tensor& a, double p) {
  return record(un(Unary::pow, a, p), "pow", {a}, [a = a.detach(), p](const Tensor& g) {
    return Grads{
        bin(Binary::mul, g, kernels::binary_scalar(Binary::mul, un(Unary::pow, a, p - 1), p))};
  });
}

// d relu(a) = 1[a > 0]; the mask is read off the output, which is zero exactly where a <= 0.
Tensor relu(const Tensor& a) {
  Tensor out = un(Unary::relu, a);
  return record(out, "relu", {a}, [y = out.detach()](const Tensor& g) {
    return Grads{bin(Binary::relu_backward, g, y)};
  });
}

// relu(a + b) in one pass each way, for residual joins: both inputs receive 1[y > 0] g.
Tensor add_relu(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return relu(add(a, b));  // broadcasting: the two-op form
  Tensor out = bin(Binary::add_relu, a, b);
  return record(out, "add_relu", {a, b}, [y = out.detach()](const Tensor& g) {
    Tensor gy = bin(Binary::relu_backward, g, y);
    return Grads{gy, gy};
  });
}

Tensor leaky_relu(const Tensor& a, double slope) {
  return record(
      un(Unary::leaky_relu, a, slope), "leaky_relu", {a}, [a = a.detach(), slope](const Tensor& g) {
        // slope + (1 - slope) * 1[a > 0]
        Tensor d = kernels::binary_scalar(
            Binary::add, kernels::binary_scalar(Binary::mul, un(Unary::step, a), 1 - slope), slope);
        return Grads{bin(Binary::mul, g, d)};
      });
}

// d sigmoid = s (1 - s)
Tensor sigmoid(const Tensor& a) {
  Tensor out = un(Unary::sigmoid, a);
  return record(out, "sigmoid", {a}, [s = out.detach()](const Tensor& g) {
    Tensor one_minus = kernels::binary_scalar(Binary::add, un(Unary::neg, s), 1.0);
    return Grads{bin(Binary::mul, g, bin(Binary::mul, s, one_minus))};
  });
}

// d tanh = 1 - tanh^2
Tensor tanh(const Tensor& a) {
  Tensor out = un(Unary::tanh, a);
  return record(out, "tanh", {a}, [t = out.detach()](const Tensor& g) {
    return Grads{
        bin(Binary::mul, g,
            kernels::binary_scalar(Binary::add, un(Unary::neg, un(Unary::square, t)), 1.0))};
  });
}

// silu(a) = a s(a);  d silu = s (1 + a (1 - s))
Tensor silu(const Tensor& a) {
  return record(un(Unary::silu, a), "silu", {a}, [a = a.detach()](const Tensor& g) {
    Tensor s = un(Unary::sigmoid, a);
    Tensor one_minus = kernels::binary_scalar(Binary::add, un(Unary::neg, s), 1.0);
    Tensor d = bin(Binary::mul, s,
                   kernels::binary_scalar(Binary::add, bin(Binary::mul, a, one_minus), 1.0));
    return Grads{bin(Binary::mul, g, d)};
  });
}

namespace {
// Re-inserts reduced axes as size 1 so a reduced gradient broadcasts back over the input.
Tensor unreduce(const Tensor& g, const Shape& in_shape, const std::vector<int64_t>& axes_in,
                bool keepdim) {
  Tensor out = g;
  if (!keepdim) {
    for (int64_t ax : normalize_axes(axes_in, static_cast<int64_t>(in_shape.size()), "unreduce"))
      out = out.unsqueeze(ax);
  }
  return out;
}
}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim) {
  return record(kernels::sum(a, axes, keepdim), "sum", {a},
                [s = a.shape(), axes, keepdim](const Tensor& g) {
                  return Grads{unreduce(g, s, axes, keepdim).expand(s).contiguous()};
                });
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim) {
  Tensor out = kernels::mean(a, axes, keepdim);
  const double n = static_cast<double>(a.numel()) / std::max<int64_t>(out.numel(), 1);
  return record(out, "mean", {a}, [s = a.shape(), axes, keepdim, n](const Tensor& g) {
    return Grads{
        kernels::binary_scalar(Binary::mul, unreduce(g, s, axes, keepdim).expand(s), 1.0 / n)};
  });
}

Tensor max(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim) {
  Tensor out = kernels::max(a, axes, keepdim);
  return record(out, "max", {a},
                [a = a.detach(), y = out.detach(), axes, keepdim](const Tensor& g) {
                  Tensor mask = bin(Binary::eq, a, unreduce(y, a.shape(), axes, keepdim));
                  Tensor count = kernels::sum(mask, axes, true);
                  Tensor share = bin(Binary::div, unreduce(g, a.shape(), axes, keepdim), count);
                  return Grads{bin(Binary::mul, mask, share)};
                });
}

// var = sum((a - m)^2) / d;  d var / da = 2 (a - m) / d  (the mean's own dependence cancels)
Tensor var(const Tensor& a, const std::vector<int64_t>& axes, bool unbiased, bool keepdim) {
  Tensor out = kernels::var(a, axes, unbiased, keepdim);
  const double n = static_cast<double>(a.numel()) / std::max<int64_t>(out.numel(), 1);
  const double d = n - (unbiased ? 1 : 0);
  return record(out, "var", {a}, [a = a.detach(), axes, keepdim, d](const Tensor& g) {
    Tensor centered = bin(Binary::sub, a, kernels::mean(a, axes, true));
    Tensor scale =
        kernels::binary_scalar(Binary::mul, unreduce(g, a.shape(), axes, keepdim), 2.0 / d);
    return Grads{bin(Binary::mul, centered, scale)};
  });
}

Tensor argmax(const Tensor& a, int64_t axis, bool keepdim) {
  return kernels::argmax(a, axis, keepdim);
}

// C = A B:  dA = G B^T,  dB = A^T G  (batched: per batch entry)
Tensor matmul(const Tensor& a, const Tensor& b) {
  return record(kernels::matmul(a, b), "matmul", {a, b},
                [a = a.detach(), b = b.detach()](const Tensor& g) {
                  const int64_t r = a.dim();
                  return Grads{kernels::matmul(g, b.transpose(r - 2, r - 1)),
                               kernels::matmul(a.transpose(r - 2, r - 1), g)};
                });
}

}  // namespace nl
