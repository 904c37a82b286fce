// Weight-side normalizers: gradchecks through a convolution, the properties each one promises,
// the factory's combined specs and their place in the models. (PyTorch agreement: test_fixtures.)
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/ops.hpp"
#include "helpers.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/models/resnet.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/weight/spectral_norm.hpp"
#include "layers/norm/weight/weight_normalizer.hpp"

using namespace nl;
using test::check_grad;
using test::randn64;
using Ts = std::vector<Tensor>;

namespace {

// Rows of a (C_out, ...) weight: per-row mean and biased variance, and L2 norm.
struct RowStats {
  std::vector<double> mean, var, norm;
};
RowStats row_stats(const Tensor& w) {
  const int64_t out = w.shape()[0], f = w.numel() / out;
  const std::vector<double> v = w.to_vector();
  RowStats s;
  for (int64_t o = 0; o < out; ++o) {
    double m = 0, q = 0;
    for (int64_t i = 0; i < f; ++i) m += v[o * f + i] / double(f);
    for (int64_t i = 0; i < f; ++i) q += (v[o * f + i] - m) * (v[o * f + i] - m);
    double n = 0;
    for (int64_t i = 0; i < f; ++i) n += v[o * f + i] * v[o * f + i];
    s.mean.push_back(m);
    s.var.push_back(q / double(f));
    s.norm.push_back(std::sqrt(n));
  }
  return s;
}

}  // namespace

TEST_SUITE("norm") {
  TEST_CASE("weight normalizers pass float64 gradchecks through a convolution") {
    const Tensor x = randn64({2, 3, 5, 5}, 70);
    const Tensor v = add(mul(randn64({4, 3, 3, 3}, 71, false), 0.5), 0.1).detach().requires_grad_();
    for (auto [kind, outside] : {std::pair{WeightNormKind::wn, false},
                                 {WeightNormKind::cwn, false},
                                 {WeightNormKind::ws, false},
                                 {WeightNormKind::ws, true},
                                 {WeightNormKind::sws, false},
                                 {WeightNormKind::wc, false}}) {
      WeightNormalizer wn(v, {.kind = kind, .eps = 1e-5, .eps_outside = outside});
      CAPTURE(wn.type_name());
      wn.to(DType::f64);
      Ts inputs{x, v};
      if (wn.gain.defined()) {
        wn.gain.copy_(add(randn64({4}, 72, false), 1.5));
        inputs.push_back(wn.gain);
      }
      check_grad([&](const Ts& t) { return conv2d(t[0], wn(t[1]), Tensor(), {}); }, inputs);
    }
    // Spectral norm: u, v move in training, so check the gradient with them fixed (eval), as
    // PyTorch's own tests do, after a few power iterations.
    SpectralNorm sn(v, 1);
    sn.to(DType::f64);
    for (int i = 0; i < 5; ++i) sn(v);
    sn.eval();
    check_grad([&](const Ts& t) { return conv2d(t[0], sn(t[1]), Tensor(), {}); }, {x, v});
  }

  TEST_CASE("each weight normalizer delivers its promise on every filter") {
    Generator g(73);
    const Tensor v = add(mul(Tensor::randn({6, 4, 3, 3}, g, DType::f64), 0.3), 0.2);
    WeightNormalizer ws(v, {.kind = WeightNormKind::ws, .eps = 0});
    for (double m : row_stats(ws(v)).mean) CHECK(std::abs(m) < 1e-12);
    for (double s : row_stats(ws(v)).var) CHECK(s == doctest::Approx(1.0));
    WeightNormalizer wc(v, {.kind = WeightNormKind::wc});
    for (double m : row_stats(wc(v)).mean) CHECK(std::abs(m) < 1e-12);
    // wn starts as the identity (g = ||v||) and then has norm g per filter.
    WeightNormalizer wn(v, {.kind = WeightNormKind::wn});
    CHECK(test::max_abs_diff(wn(v), v) < 1e-12);
    wn.gain.fill_(2.5);
    for (double n : row_stats(wn(v)).norm) CHECK(n == doctest::Approx(2.5));
    WeightNormalizer cwn(v, {.kind = WeightNormKind::cwn});
    for (double n : row_stats(cwn(v)).norm) CHECK(n > 0);
    cwn.gain.fill_(1.0);
    for (double n : row_stats(cwn(v)).norm) CHECK(n == doctest::Approx(1.0));
    // sws: gain * gamma / sqrt(fan_in) times a standardized filter: variance gamma^2 / fan_in.
    WeightNormalizer sws(v, {.kind = WeightNormKind::sws, .eps = 0});
    for (double s : row_stats(sws(v)).var) CHECK(s == doctest::Approx(1.7139 * 1.7139 / 36));
    // Spectral norm converges to the largest singular value: ||W_SN v|| -> 1.
    SpectralNorm sn(v, 1);
    sn.to(DType::f64);
    Tensor w_sn;
    for (int i = 0; i < 50; ++i) w_sn = sn(v);
    const Tensor m = w_sn.reshape({6, 36});
    const Tensor mv = matmul(m, sn.v.reshape({36, 1}));
    CHECK(std::sqrt(sum(square(mv)).item()) == doctest::Approx(1.0).epsilon(1e-6));
  }

  TEST_CASE("combined specs put the weight side on the convolutions of a ResNet") {
    ModulePtr m = make_model("resnet20", 16, "gn+sws:groups=8,sws.gamma=1");
    auto params = m->state_dict();
    CHECK(params.count("conv1.weight_norm.gain") == 1);
    CHECK(params.count("layer2.0.shortcut.0.weight_norm.gain") == 1);
    CHECK(params.count("layer1.0.bn1.weight") == 1);  // the GroupNorm half
    CHECK(params.count("fc.weight_norm.gain") == 0);  // the classifier stays plain
    Generator g(74);
    const Tensor x = Tensor::randn({2, 3, 32, 32}, g);
    const Tensor y = (*m)(x);
    sum(y).backward();
    for (auto& [name, p] : m->named_parameters()) {
      CAPTURE(name);
      CHECK(p.grad().defined());
    }
    // ws alone leaves an Identity in the slot; wn:crelu brings its own activation.
    NormSlot ws = make_norm("ws", 16);
    CHECK(ws.weight_normalizer);
    CHECK(ws.module->type_name() == "Identity");
    CHECK(make_norm("wn:crelu", 16).includes_activation);
    CHECK(make_norm("ln+ws:ws.eps_outside=true", 16).weight_normalizer);
    CHECK_THROWS_WITH_AS(make_norm("ws+gn", 16), doctest::Contains("activation normalizer then"),
                         Error);
    CHECK_THROWS_WITH_AS(make_norm("gn+wn:wn.crelu", 16), doctest::Contains("cannot be combined"),
                         Error);
    CHECK_THROWS_WITH_AS(make_norm("gn+ws:ws.bogus=1", 16), doctest::Contains("unknown argument"),
                         Error);
  }

  TEST_CASE("Kaiming re-initialisation keeps Weight Norm an identity at the start") {
    ResNet net(20, {.norm = "wn", .kaiming_normal = true});
    std::shared_ptr<Conv2d> conv;
    for (auto& [name, module] : net.named_modules())
      if (name == "layer2.1.conv1") conv = std::dynamic_pointer_cast<Conv2d>(module);
    REQUIRE(conv);
    CHECK(test::max_abs_diff(conv->effective_weight(), conv->weight) < 1e-5);
  }
}
