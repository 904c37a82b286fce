// The fast normalization kernels against their readable reference
// (layers/norm/reference/grouped_norm_reference.cpp) on random shapes, in float64: output,
// input gradient and affine gradients of BatchNorm, GroupNorm, LayerNorm and InstanceNorm.
#include <doctest/doctest.h>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/parallel.hpp"
#include "helpers.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/position_norm.hpp"
#include "layers/norm/reference/grouped_norm_reference.hpp"
#include "layers/norm/reference/position_norm_reference.hpp"
#include "layers/norm/reference/weight_norm_reference.hpp"
#include "layers/norm/weight/weight_normalizer.hpp"

using namespace nl;

using test::max_abs_diff;
using test::randn64;

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
        CHECK(max_abs_diff(y.to_vector(), fwd.y) < 1e-12);
        CHECK(max_abs_diff(x.grad().to_vector(), bwd.dx) < 1e-10);
        CHECK(max_abs_diff(gamma.grad().to_vector(), bwd.dgamma) < 1e-10);
        CHECK(max_abs_diff(beta.grad().to_vector(), bwd.dbeta) < 1e-10);
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

  TEST_CASE("Weight Normalization and Weight Standardization agree with the reference loops") {
    Generator shapes(29);
    for (int trial = 0; trial < 8; ++trial) {
      const int64_t k = 1 + int64_t(shapes.below(6)), c = 1 + int64_t(shapes.below(4));
      const int64_t kh = 1 + int64_t(shapes.below(3)), kw = 1 + int64_t(shapes.below(3));
      const int64_t fan_in = c * kh * kw;
      if (fan_in < 2) continue;  // a one-element row has no direction to standardize
      CAPTURE(shape_str({k, c, kh, kw}));
      Tensor v = randn64({k, c, kh, kw}, 900 + trial);
      const Tensor dw = randn64({k, c, kh, kw}, 950 + trial, false);

      // wn: the gain is trained; give it values other than its init ||v_k||.
      WeightNormalizer wn(v, {.kind = WeightNormKind::wn});
      wn.to(DType::f64);
      {
        NoGradGuard no_grad;
        wn.gain.copy_(randn64(wn.gain.shape(), 990 + trial, false));
      }
      wn.gain.requires_grad_();
      sum(wn(v) * dw).backward();
      const std::vector<double> g = wn.gain.to_vector();
      const reference::WeightNormShape s{k, fan_in};
      const auto ref_w = reference::weight_norm_forward(s, v.to_vector(), g);
      const auto ref = reference::weight_norm_backward(s, v.to_vector(), g, dw.to_vector());
      CHECK(max_abs_diff(wn(v).to_vector(), ref_w) < 1e-12);
      CHECK(max_abs_diff(v.grad().to_vector(), ref.dv) < 1e-10);
      CHECK(max_abs_diff(wn.gain.grad().to_vector(), ref.dg) < 1e-10);

      // ws is InstanceNorm of the weight seen as one sample of K planes of F values, without
      // affine: the grouped reference with groups = K, gamma = 1 and beta = 0.
      v.zero_grad();
      WeightNormalizer ws(v, {.kind = WeightNormKind::ws, .eps = 1e-5});
      ws.to(DType::f64);
      sum(ws(v) * dw).backward();
      const reference::GroupedNormShape rows{1, k, fan_in, 1, false, k};
      const std::vector<double> ones(size_t(k), 1.0), zeros(size_t(k), 0.0);
      const auto fwd = reference::grouped_norm_forward(rows, v.to_vector(), ones, zeros, 1e-5);
      const auto bwd =
          reference::grouped_norm_backward(rows, v.to_vector(), ones, fwd, dw.to_vector());
      CHECK(max_abs_diff(ws(v).to_vector(), fwd.y) < 1e-12);
      CHECK(max_abs_diff(v.grad().to_vector(), bwd.dx) < 1e-10);
    }
  }

  TEST_CASE("the Weight Normalization reference backward passes a float64 gradcheck") {
    const reference::WeightNormShape s{3, 4};
    const std::vector<double> v = randn64({3, 4}, 41, false).to_vector();
    const std::vector<double> g = {0.7, -1.2, 2.0};
    const std::vector<double> dw = randn64({3, 4}, 42, false).to_vector();
    const auto loss = [&](const std::vector<double>& vs, const std::vector<double>& gs) {
      const auto w = reference::weight_norm_forward(s, vs, gs);
      double l = 0;
      for (size_t i = 0; i < w.size(); ++i) l += w[i] * dw[i];
      return l;
    };
    const auto b = reference::weight_norm_backward(s, v, g, dw);
    for (size_t i = 0; i < v.size(); ++i) {
      auto up = v, down = v;
      up[i] += 1e-6, down[i] -= 1e-6;
      CHECK(b.dv[i] == doctest::Approx((loss(up, g) - loss(down, g)) / 2e-6).epsilon(1e-6));
    }
    for (size_t i = 0; i < g.size(); ++i) {
      auto up = g, down = g;
      up[i] += 1e-6, down[i] -= 1e-6;
      CHECK(b.dg[i] == doctest::Approx((loss(v, up) - loss(v, down)) / 2e-6).epsilon(1e-6));
    }
  }

  TEST_CASE("the position kernel (ln2d, pono, rms2d) agrees with its channels-last composite") {
    // Maps with L below, at and above the kernel's 128-position block (and not a multiple of
    // it), one channel for the uncentred case, every NormMath the layers use.
    const struct {
      Shape shape;
      NormMath math;
      bool affine;
    } cases[] = {{{3, 5, 4, 7}, {}, true},
                 {{2, 4, 16, 8}, {}, true},
                 {{2, 3, 13, 11}, {}, false},
                 {{1, 6, 20, 20}, {.subtract_mean = false, .center_variance = false}, true},
                 {{2, 1, 3, 50}, {.subtract_mean = false, .center_variance = false}, true},
                 {{4, 8}, {}, true}};
    uint64_t seed = 500;
    for (const auto& k : cases) {
      CAPTURE(shape_str(k.shape));
      CAPTURE(k.math.subtract_mean);
      const int64_t c = k.shape[1];
      // Offset data: the centred statistics must not lose it to cancellation.
      const Tensor x = add(mul(test::randn64(k.shape, seed++, false), 2.0), 3.0).detach();
      const Tensor dy = test::randn64(k.shape, seed++, false);
      const Tensor g0 = test::randn64({c}, seed++, false), b0 = test::randn64({c}, seed++, false);
      auto run = [&](auto op, Tensor& dx, Tensor& dg, Tensor& db) {
        Tensor xi = x.clone().requires_grad_(true);
        Tensor g = k.affine ? g0.clone().requires_grad_(true) : Tensor();
        Tensor b = k.affine ? b0.clone().requires_grad_(true) : Tensor();
        const Tensor y = op(xi, g, b, 1e-5, "PositionNorm", k.math);
        sum(y * dy).backward();
        dx = xi.grad();
        if (k.affine) dg = g.grad(), db = b.grad();
        return y;
      };
      Tensor dx, dg, db, rdx, rdg, rdb;
      const Tensor y = run(position_norm, dx, dg, db);
      const Tensor ry = run(reference::position_norm_composite, rdx, rdg, rdb);
      CHECK(max_abs_diff(y, ry) < 1e-12);
      CHECK(max_abs_diff(dx, rdx) < 1e-10);
      if (k.affine) {
        CHECK(max_abs_diff(dg, rdg) < 1e-10);
        CHECK(max_abs_diff(db, rdb) < 1e-10);
      }
    }
  }

  TEST_CASE("the position kernel gives the same bits on 1, 2 and 3 threads") {
    const Tensor x = test::randn64({8, 4, 40, 41}, 520, false).to(DType::f32);
    const Tensor dy = test::randn64({8, 4, 40, 41}, 521, false).to(DType::f32);
    std::vector<std::vector<double>> outs;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      Tensor xi = x.clone().requires_grad_(true);
      Tensor g = Tensor::ones({4}).requires_grad_(true),
             b = Tensor::zeros({4}).requires_grad_(true);
      sum(position_norm(xi, g, b, 1e-6, "LayerNorm2d") * dy).backward();
      std::vector<double> all = xi.grad().to_vector();
      for (const Tensor& t : {g.grad(), b.grad()})
        for (double v : t.to_vector()) all.push_back(v);
      outs.push_back(all);
    }
    set_num_threads(0);
    CHECK(outs[0] == outs[1]);
    CHECK(outs[0] == outs[2]);
  }
}
