// The fast normalization kernels against their readable reference
// (layers/norm/reference/grouped_norm_reference.cpp) on random shapes, in float64: output,
// input gradient and affine gradients of BatchNorm, GroupNorm, LayerNorm and InstanceNorm.
#include <doctest/doctest.h>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "helpers.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/reference/grouped_norm_reference.hpp"

using namespace nl;

namespace {

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace

TEST_SUITE("norm") {
  TEST_CASE("BN, GN, LN and IN kernels agree with the reference loops on random shapes") {
    Generator shapes(17);
    for (int trial = 0; trial < 12; ++trial) {
      const int64_t groups = 1 + int64_t(shapes.below(3));  // 1..3 groups
      const int64_t n = 1 + int64_t(shapes.below(4)), c = groups * (1 + int64_t(shapes.below(3)));
      const int64_t h = 1 + int64_t(shapes.below(5)), w = 2 + int64_t(shapes.below(5));
      const struct {
        std::string spec;
        bool batch;
        int64_t groups;
      } cases[] = {{"bn", true, 1},
                   {"gn:groups=" + std::to_string(groups), false, groups},
                   {"ln", false, 1},
                   {"in", false, c}};
      for (const auto& k : cases) {
        if (k.batch && n * h * w < 2) continue;  // BatchNorm needs two values per channel
        CAPTURE(k.spec);
        CAPTURE(shape_str({n, c, h, w}));
        ModulePtr layer = make_norm(k.spec, c).module;
        layer->to(DType::f64);
        layer->train();
        Tensor gamma = test::parameter(*layer, "weight"), beta = test::parameter(*layer, "bias");
        {
          NoGradGuard no_grad;
          gamma.copy_(test::randn64({c}, 100 + trial, false));
          beta.copy_(test::randn64({c}, 200 + trial, false));
        }
        Tensor x = test::randn64({n, c, h, w}, 300 + trial);
        const Tensor dy = test::randn64({n, c, h, w}, 400 + trial, false);
        const Tensor y = (*layer)(x);
        sum(y * dy).backward();

        const reference::GroupedNormShape s{n, c, h, w, k.batch, k.groups};
        const auto fwd = reference::grouped_norm_forward(s, x.to_vector(), gamma.to_vector(),
                                                         beta.to_vector(), 1e-5);
        const auto bwd = reference::grouped_norm_backward(s, x.to_vector(), gamma.to_vector(), fwd,
                                                          dy.to_vector());
        CHECK(max_diff(y.to_vector(), fwd.y) < 1e-12);
        CHECK(max_diff(x.grad().to_vector(), bwd.dx) < 1e-10);
        CHECK(max_diff(gamma.grad().to_vector(), bwd.dgamma) < 1e-10);
        CHECK(max_diff(beta.grad().to_vector(), bwd.dbeta) < 1e-10);
      }
    }
  }

  TEST_CASE("the reference backward is itself right: a float64 gradcheck of the loops") {
    const reference::GroupedNormShape s{2, 4, 3, 3, false, 2};
    const std::vector<double> gamma = {0.5, -1.0, 2.0, 1.5}, beta = {0.1, 0.2, -0.3, 0.0};
    Generator g(5);
    std::vector<double> x(72), dy(72);
    for (auto& v : x) v = g.normal_at(uint64_t(&v - x.data()));
    for (auto& v : dy) v = g.normal_at(1000 + uint64_t(&v - dy.data()));
    const auto loss = [&](const std::vector<double>& xs) {
      const auto f = reference::grouped_norm_forward(s, xs, gamma, beta, 1e-5);
      double l = 0;
      for (size_t i = 0; i < xs.size(); ++i) l += f.y[i] * dy[i];
      return l;
    };
    const auto b = reference::grouped_norm_backward(
        s, x, gamma, reference::grouped_norm_forward(s, x, gamma, beta, 1e-5), dy);
    for (size_t i = 0; i < x.size(); ++i) {
      std::vector<double> up = x, down = x;
      up[i] += 1e-6, down[i] -= 1e-6;
      CHECK(b.dx[i] == doctest::Approx((loss(up) - loss(down)) / 2e-6).epsilon(1e-6));
    }
  }
}
