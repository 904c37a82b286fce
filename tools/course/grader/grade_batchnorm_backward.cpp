// Grades exercise 4.1 (exercises/04-batchnorm/batchnorm_backward.hpp).
#include "batchnorm_backward.hpp"
#include "grader/grader.hpp"

using course::Array;
using course::BatchShape;

namespace {

// A usual batch, one sample of a 7x5 map (statistics over space only), 6 samples of 1x1 (the
// variance path matters most when M is small).
const BatchShape kShapes[] = {{4, 3, 3, 3}, {1, 2, 7, 5}, {6, 4, 1, 1}};

struct Case {
  BatchShape s;
  Array x, gamma, beta, dy;
  nl::Shape shape() const { return {s.n, s.c, s.h, s.w}; }
};

Case make_case(const BatchShape& s, uint64_t seed) {
  const course::NormData d = course::norm_data(size_t(s.n * s.c * s.h * s.w), s.c, seed, 2.0, 0.5);
  return {s, d.x, d.gamma, d.beta, d.dy};
}

std::string describe(const BatchShape& s) {
  return "x " + nl::shape_str({s.n, s.c, s.h, s.w});
}

// normlab's BatchNorm2d on the case: the expected dx, dgamma, dbeta.
course::BatchNormGrads expected(const Case& k) {
  nl::ModulePtr bn = course::norm_layer("bn", k.s.c, k.gamma, k.beta);
  nl::Tensor x = course::tensor(k.x, k.shape(), true);
  nl::sum((*bn)(x)*course::tensor(k.dy, k.shape())).backward();
  return {x.grad().to_vector(), course::parameter(*bn, "weight").grad().to_vector(),
          course::parameter(*bn, "bias").grad().to_vector()};
}

course::BatchNormGrads student(const Case& k) {
  const course::BatchNormCache cache = course::batchnorm_forward(k.s, k.x, k.gamma, k.beta);
  return course::batchnorm_backward(k.s, k.x, k.gamma, cache, k.dy);
}

}  // namespace

int main() {
  course::Grader grader("exercise 4.1, BatchNorm backward");

  grader.check("dgamma and dbeta equal normlab's BatchNorm2d", [&]() -> std::string {
    for (const BatchShape& s : kShapes) {
      const Case k = make_case(s, 10);
      const course::BatchNormGrads got = student(k), want = expected(k);
      for (const auto& [name, a, b] : {std::tuple{"dgamma", got.dgamma, want.dgamma},
                                       std::tuple{"dbeta", got.dbeta, want.dbeta}}) {
        const std::string problem = course::compare(name, a, b, {s.c}, 1e-10);
        if (!problem.empty()) return problem + ", for " + describe(s);
      }
    }
    return "";
  });

  grader.check("dx equals normlab's BatchNorm2d", [&]() -> std::string {
    for (const BatchShape& s : kShapes) {
      const Case k = make_case(s, 20);
      const std::string problem =
          course::compare("dx", student(k).dx, expected(k).dx, k.shape(), 1e-10);
      if (!problem.empty()) return problem + ", for " + describe(s);
    }
    return "";
  });

  grader.check("backward matches central differences", [&] {
    const Case k = make_case(kShapes[0], 30);
    return course::gradcheck_pair(
        [&](const std::vector<Array>& in) {
          return course::batchnorm_forward(k.s, in[0], in[1], in[2]).y;
        },
        [&](const std::vector<Array>& in, const Array& dy) {
          const auto cache = course::batchnorm_forward(k.s, in[0], in[1], in[2]);
          const auto g = course::batchnorm_backward(k.s, in[0], in[1], cache, dy);
          return std::vector<Array>{g.dx, g.dgamma, g.dbeta};
        },
        {{"x", k.x, k.shape()}, {"gamma", k.gamma, {k.s.c}}, {"beta", k.beta, {k.s.c}}}, k.shape());
  });

  // dx = rstd (g - mean(g) - xhat mean(g xhat)) is g with its components along 1 and xhat
  // removed (per channel): a projection, so <dx, 1> = <dx, xhat> = 0. Exactly so with eps = 0
  // (with eps, mean(xhat^2) = var / (var + eps) is not quite 1).
  grader.check("dx is orthogonal to 1 and to xhat in every channel", [&]() -> std::string {
    const Case k = make_case(kShapes[0], 40);
    const course::BatchNormCache cache =
        course::batchnorm_forward(k.s, k.x, k.gamma, k.beta, /*eps=*/0.0);
    const Array dx = course::batchnorm_backward(k.s, k.x, k.gamma, cache, k.dy).dx;
    if (dx.size() != k.x.size()) return "dx has the wrong size";
    for (int64_t c = 0; c < k.s.c; ++c) {
      double sum = 0, along_xhat = 0, scale = 0;
      for (int64_t n = 0; n < k.s.n; ++n)
        for (int64_t p = 0; p < k.s.h * k.s.w; ++p) {
          const int64_t i = k.s.index(n, c, p);
          const double xhat = (k.x[i] - cache.mean[c]) * cache.rstd[c];
          sum += dx[i], along_xhat += dx[i] * xhat, scale += std::abs(dx[i]);
        }
      std::ostringstream os;
      if (std::abs(sum) > 1e-10 * (1 + scale))
        os << "channel " << c << ": sum of dx is " << sum << ", not 0 (the mean path is missing)";
      else if (std::abs(along_xhat) > 1e-10 * (1 + scale))
        os << "channel " << c << ": <dx, xhat> is " << along_xhat
           << ", not 0 (the variance path is missing or wrong)";
      if (!os.str().empty()) return os.str();
    }
    return "";
  });
  return grader.result();
}
