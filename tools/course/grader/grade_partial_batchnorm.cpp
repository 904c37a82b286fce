// Grades exercise 4.2 (exercises/04-batchnorm/partial_batchnorm.hpp).
#include "grader/grader.hpp"
#include "partial_batchnorm.hpp"

using course::Array;
using course::PartialShape;

namespace {

const PartialShape kShapes[] = {{4, 3, 3, 3}, {1, 2, 6, 5}, {5, 4, 1, 1}};

struct Case {
  PartialShape s;
  Array x, gamma, beta, dy;
  nl::Shape shape() const { return {s.n, s.c, s.h, s.w}; }
};

// x with a channel mean far from 0, so that forgetting to centre shows.
Case make_case(const PartialShape& s, uint64_t seed) {
  const course::NormData d = course::norm_data(size_t(s.n * s.c * s.h * s.w), s.c, seed, 1.5, 2.0);
  return {s, d.x, d.gamma, d.beta, d.dy};
}

struct Expected {
  Array y, dx, dgamma, dbeta;
};
// normlab's layer (`mbn` or `vn`) on the case.
Expected expected(const std::string& spec, const Case& k) {
  nl::ModulePtr layer = course::norm_layer(spec, k.s.c, k.gamma, k.beta);
  nl::Tensor x = course::tensor(k.x, k.shape(), true);
  const nl::Tensor y = (*layer)(x);
  nl::sum(y * course::tensor(k.dy, k.shape())).backward();
  return {y.to_vector(), x.grad().to_vector(),
          course::parameter(*layer, "weight").grad().to_vector(),
          course::parameter(*layer, "bias").grad().to_vector()};
}

std::string with_shape(const std::string& problem, const PartialShape& s) {
  return problem.empty() ? "" : problem + ", for x " + nl::shape_str({s.n, s.c, s.h, s.w});
}

using ForwardFn = std::function<Array(const Case&)>;
using BackwardFn = std::function<course::PartialGrads(const Case&)>;

std::string check_forward(const std::string& spec, const ForwardFn& forward) {
  for (const PartialShape& s : kShapes) {
    const Case k = make_case(s, 50);
    const std::string p = course::compare("y", forward(k), expected(spec, k).y, k.shape(), 1e-10);
    if (!p.empty()) return with_shape(p, s);
  }
  return "";
}

std::string check_backward(const std::string& spec, const BackwardFn& backward) {
  for (const PartialShape& s : kShapes) {
    const Case k = make_case(s, 60);
    const course::PartialGrads got = backward(k);
    const Expected want = expected(spec, k);
    for (const auto& [name, a, b, shape] :
         {std::tuple{"dx", got.dx, want.dx, k.shape()},
          std::tuple{"dgamma", got.dgamma, want.dgamma, nl::Shape{s.c}},
          std::tuple{"dbeta", got.dbeta, want.dbeta, nl::Shape{s.c}}}) {
      const std::string p = course::compare(name, a, b, shape, 1e-10);
      if (!p.empty()) return with_shape(p, s);
    }
  }
  return "";
}

std::string check_gradient(const ForwardFn& forward, const BackwardFn& backward) {
  const Case base = make_case(kShapes[0], 70);
  const auto as_case = [&](const std::vector<Array>& in, const Array& dy) {
    return Case{base.s, in[0], in[1], in[2], dy};
  };
  return course::gradcheck_pair(
      [&](const std::vector<Array>& in) { return forward(as_case(in, base.dy)); },
      [&](const std::vector<Array>& in, const Array& dy) {
        const course::PartialGrads g = backward(as_case(in, dy));
        return std::vector<Array>{g.dx, g.dgamma, g.dbeta};
      },
      {{"x", base.x, base.shape()},
       {"gamma", base.gamma, {base.s.c}},
       {"beta", base.beta, {base.s.c}}},
      base.shape());
}

}  // namespace

int main() {
  course::Grader grader("exercise 4.2, mean-only and variance-only BatchNorm");
  const ForwardFn mean_fwd = [](const Case& k) {
    return course::mean_only_forward(k.s, k.x, k.gamma, k.beta);
  };
  const BackwardFn mean_bwd = [](const Case& k) {
    return course::mean_only_backward(k.s, k.x, k.gamma, k.dy);
  };
  const ForwardFn var_fwd = [](const Case& k) {
    return course::variance_only_forward(k.s, k.x, k.gamma, k.beta);
  };
  const BackwardFn var_bwd = [](const Case& k) {
    return course::variance_only_backward(k.s, k.x, k.gamma, k.dy);
  };
  grader.check("mean-only forward equals normlab's mbn",
               [&] { return check_forward("mbn", mean_fwd); });
  grader.check("mean-only backward equals normlab's mbn",
               [&] { return check_backward("mbn", mean_bwd); });
  grader.check("mean-only backward matches central differences",
               [&] { return check_gradient(mean_fwd, mean_bwd); });
  grader.check("variance-only forward equals normlab's vn",
               [&] { return check_forward("vn", var_fwd); });
  grader.check("variance-only backward equals normlab's vn",
               [&] { return check_backward("vn", var_bwd); });
  grader.check("variance-only backward matches central differences",
               [&] { return check_gradient(var_fwd, var_bwd); });
  return grader.result();
}
