// Grades exercise 5.1 (exercises/05-group-norms/groupnorm.hpp).
#include "grader/grader.hpp"
#include "groupnorm.hpp"

using course::Array;
using course::GroupShape;

namespace {

// LayerNorm (G = 1), GroupNorm (G = 2, 3) and InstanceNorm (G = C).
const GroupShape kShapes[] = {{3, 4, 3, 2, 1}, {2, 4, 3, 3, 2}, {2, 6, 2, 2, 3}, {3, 3, 4, 3, 3}};

struct Case {
  GroupShape s;
  Array x, gamma, beta, dy;
  nl::Shape shape() const { return {s.n, s.c, s.h, s.w}; }
  std::string spec() const { return "gn:groups=" + std::to_string(s.groups); }
  std::string describe() const {
    return "x " + nl::shape_str(shape()) + " with G = " + std::to_string(s.groups);
  }
};

Case make_case(const GroupShape& s, uint64_t seed) {
  const course::NormData d = course::norm_data(size_t(s.n * s.c * s.h * s.w), s.c, seed, 2.0, -1.0);
  return {s, d.x, d.gamma, d.beta, d.dy};
}

struct Expected {
  Array y, dx, dgamma, dbeta;
};
Expected expected(const Case& k) {
  nl::ModulePtr gn = course::norm_layer(k.spec(), k.s.c, k.gamma, k.beta);
  nl::Tensor x = course::tensor(k.x, k.shape(), true);
  const nl::Tensor y = (*gn)(x);
  nl::sum(y * course::tensor(k.dy, k.shape())).backward();
  return {y.to_vector(), x.grad().to_vector(), course::parameter(*gn, "weight").grad().to_vector(),
          course::parameter(*gn, "bias").grad().to_vector()};
}

// mean and rstd per (n, g) computed the plain way, to check the returned statistics.
std::pair<Array, Array> statistics(const Case& k) {
  const GroupShape& s = k.s;
  Array mean(s.n * s.groups, 0.0), sq(s.n * s.groups, 0.0), rstd(s.n * s.groups);
  const double m = double(s.c / s.groups * s.h * s.w);
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t p = 0; p < s.h * s.w; ++p) {
          const int64_t st = n * s.groups + s.group_of(c);
          const double v = k.x[s.index(n, c, p)];
          if (pass == 0)
            mean[st] += v / m;
          else
            sq[st] += (v - mean[st]) * (v - mean[st]) / m;
        }
  for (size_t i = 0; i < rstd.size(); ++i) rstd[i] = 1 / std::sqrt(sq[i] + 1e-5);
  return {mean, rstd};
}

}  // namespace

int main() {
  course::Grader grader("exercise 5.1, GroupNorm forward and backward");

  grader.check("forward equals normlab's GroupNorm", [&]() -> std::string {
    for (const GroupShape& s : kShapes) {
      const Case k = make_case(s, 80);
      const course::GroupNormForward f = course::groupnorm_forward(s, k.x, k.gamma, k.beta);
      std::string p = course::compare("y", f.y, expected(k).y, k.shape(), 1e-10);
      const auto [mean, rstd] = statistics(k);
      if (p.empty()) p = course::compare("mean", f.mean, mean, {s.n, s.groups}, 1e-10);
      if (p.empty()) p = course::compare("rstd", f.rstd, rstd, {s.n, s.groups}, 1e-10);
      if (!p.empty()) return p + ", for " + k.describe();
    }
    return "";
  });

  grader.check("backward equals normlab's GroupNorm", [&]() -> std::string {
    for (const GroupShape& s : kShapes) {
      const Case k = make_case(s, 90);
      const auto f = course::groupnorm_forward(s, k.x, k.gamma, k.beta);
      const course::GroupNormGrads got = course::groupnorm_backward(s, k.x, k.gamma, f, k.dy);
      const Expected want = expected(k);
      for (const auto& [name, a, b, shape] :
           {std::tuple{"dx", got.dx, want.dx, k.shape()},
            std::tuple{"dgamma", got.dgamma, want.dgamma, nl::Shape{s.c}},
            std::tuple{"dbeta", got.dbeta, want.dbeta, nl::Shape{s.c}}}) {
        const std::string p = course::compare(name, a, b, shape, 1e-10);
        if (!p.empty()) return p + ", for " + k.describe();
      }
    }
    return "";
  });

  grader.check("backward matches central differences", [&] {
    const Case k = make_case(kShapes[1], 100);
    return course::gradcheck_pair(
        [&](const std::vector<Array>& in) {
          return course::groupnorm_forward(k.s, in[0], in[1], in[2]).y;
        },
        [&](const std::vector<Array>& in, const Array& dy) {
          const auto f = course::groupnorm_forward(k.s, in[0], in[1], in[2]);
          const auto g = course::groupnorm_backward(k.s, in[0], in[1], f, dy);
          return std::vector<Array>{g.dx, g.dgamma, g.dbeta};
        },
        {{"x", k.x, k.shape()}, {"gamma", k.gamma, {k.s.c}}, {"beta", k.beta, {k.s.c}}}, k.shape());
  });
  return grader.result();
}
