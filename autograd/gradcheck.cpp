#include "autograd/gradcheck.hpp"

#include <cmath>
#include <sstream>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/random.hpp"

namespace nl {
namespace {

double projected(const Tensor& out, const Tensor& r) {
  const std::vector<double> o = out.to_vector(), p = r.to_vector();
  double s = 0;
  for (size_t i = 0; i < o.size(); ++i) s += o[i] * p[i];
  return s;
}

std::string index_str(int64_t flat, const Shape& shape) {
  Shape idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(idx);
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    check(x.dtype() == DType::f64, "gradcheck", "input ", i, " is ", x.str(), "; use float64");
    check(x.is_contiguous() && !x.grad_fn(), "gradcheck", "input ", i,
          " must be a contiguous leaf tensor");
    check(x.requires_grad(), "gradcheck", "input ", i, " does not require grad");
  }
  Generator gen(opt.seed);
  Tensor out = f(inputs);
  check(out.dtype() == DType::f64, "gradcheck", "f returned ", out.str(), "; expected float64");
  const Tensor r = Tensor::randn(out.shape(), gen, DType::f64);

  // Analytic: one backward of <f(x), r>.
  for (const Tensor& x : inputs) const_cast<Tensor&>(x).zero_grad();
  sum(mul(out, r)).backward();

  GradcheckResult res;
  double worst = -1;
  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    const Tensor g = x.grad();
    const std::vector<double> analytic =
        g.defined() ? g.to_vector() : std::vector<double>(x.numel(), 0.0);
    double* p = x.data<double>();
    for (int64_t j = 0; j < x.numel(); ++j) {
      const double saved = p[j];
      p[j] = saved + opt.step;
      const double up = projected(f(inputs), r);
      p[j] = saved - opt.step;
      const double down = projected(f(inputs), r);
      p[j] = saved;
      const double numeric = (up - down) / (2 * opt.step);
      const double excess =
          std::abs(analytic[j] - numeric) - (opt.atol + opt.rtol * std::abs(numeric));
      if (excess > worst) {
        worst = excess;
        std::ostringstream os;
        if (i < opt.input_names.size())
          os << opt.input_names[i];
        else
          os << "input " << i;
        os << " " << x.str() << " at " << index_str(j, x.shape()) << ": analytic " << analytic[j]
           << ", numeric " << numeric;
        res.message = os.str();
      }
    }
  }
  res.ok = worst <= 0;
  res.worst_error = std::max(worst, 0.0);
  if (res.ok) res.message = "ok (closest: " + res.message + ")";
  for (const Tensor& x : inputs) const_cast<Tensor&>(x).zero_grad();
  return res;
}

}  // namespace nl
