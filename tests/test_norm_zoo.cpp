// Every normalizer of the factory, generically: float64 gradchecks of the input and of every
// parameter in training and in eval, finite output on constant input, errors naming the layer.
// (Agreement with PyTorch references is in test_fixtures.cpp; layer-specific behaviour is in
// test_norm.cpp.)
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "helpers.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/linear.hpp"
#include "layers/norm/batch_renorm.hpp"
#include "layers/norm/cross_iteration_bn.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/local_response_norm.hpp"
#include "layers/norm/plane_affine.hpp"
#include "layers/norm/switchable_norm.hpp"

using namespace nl;
using test::check_grad;
using test::randn64;
using Ts = std::vector<Tensor>;

namespace {

// Every registered normalizer, by the example spec of its entry (one that fits 4 channels; brn's
// has clipping bounds its input exceeds and momentum 0, so r and d are constant and the
// numerical derivative agrees with the stop-gradient analytical one), plus the options that
// switch to different math.
std::vector<std::string> all_specs() {
  std::vector<std::string> specs;
  // Weight-side ones: test_weight_norms.cpp; ones bound to their convolution (cbn): their own
  // test below.
  for (const NormEntry& entry : norm_registry()) {
    const NormSlot slot = make_norm(entry.example_or_name(), 4);
    if (!slot.weight_normalizer && !slot.bind) specs.push_back(entry.example_or_name());
  }
  for (const char* extra :
       {"lpbn:p=2", "lpbn:p=3", "lpbn:p=inf", "ln:elementwise", "switch:unbiased=false",
        "bn:momentum=none", "pn:gn=2", "online:ecm=ac", "online:ecm=none,affine=false",
        "frn:learned_eps", "lrn:beta=0.5", "lrn:beta=1", "lrn:beta=0.6"})
    specs.push_back(extra);
  return specs;
}

const Shape kSpatial{3, 3};  // the test maps' {H, W}, for ln:elementwise

Ts inputs_and_parameters(const Tensor& x, Module& m) {
  Ts all{x};
  for (Tensor p : m.parameters()) all.push_back(p);
  return all;
}

// A float64 conv (3 -> 4 channels) feeding the Cross-Iteration BN of `spec`, bound to it, after
// three training iterations with the conv weight moving in between: the window is full.
std::pair<std::shared_ptr<Conv2d>, ModulePtr> conv_and_filled_cbn(const std::string& spec) {
  auto conv = std::make_shared<Conv2d>(3, 4, 3, 1, 1, false);
  NormSlot slot = make_norm(spec, 4);
  attach_slot(slot, conv);
  conv->to(DType::f64);
  slot.module->to(DType::f64);
  for (int step = 0; step < 3; ++step) {
    NoGradGuard no_grad;
    (*slot.module)((*conv)(add(randn64({4, 3, 5, 5}, 70 + step, false), 0.5)));
    conv->weight.copy_(
        add(conv->weight, mul(randn64(conv->weight.shape(), 80 + step, false), 0.05)));
  }
  return {conv, slot.module};
}

}  // namespace

TEST_SUITE("norm") {
  TEST_CASE("lrn: the square-root exponents and the general pow give the defining formula") {
    // y_c = x_c (k + alpha/n sum_{window} x^2)^(-beta), window [c - 1, c + 1] for n = 3.
    const Tensor x = randn64({2, 5, 2, 3}, 44, false);
    const std::vector<double> xv = x.to_vector();
    for (double beta : {0.5, 0.6, 0.75, 1.0}) {
      CAPTURE(beta);
      const Tensor y = local_response_norm(x, 3, 0.3, beta, 1.5);
      const std::vector<double> yv = y.to_vector();
      for (int64_t s = 0; s < 2; ++s)
        for (int64_t c = 0; c < 5; ++c)
          for (int64_t i = 0; i < 6; ++i) {
            double sq = 0;
            for (int64_t cc = std::max<int64_t>(0, c - 1); cc <= std::min<int64_t>(4, c + 1); ++cc)
              sq += xv[(s * 5 + cc) * 6 + i] * xv[(s * 5 + cc) * 6 + i];
            const int64_t j = (s * 5 + c) * 6 + i;
            CHECK(yv[j] == doctest::Approx(xv[j] * std::pow(1.5 + 0.1 * sq, -beta)).epsilon(1e-14));
          }
    }
  }

  TEST_CASE("every normalizer passes float64 gradchecks in train and eval") {
    // Offset and scaled so batch statistics differ clearly from the initial running ones.
    const Tensor x = add(mul(randn64({4, 4, 3, 3}, 40, false), 2.0), 1.0).detach();
    for (const std::string& spec : all_specs()) {
      CAPTURE(spec);
      ModulePtr m = make_norm(spec, 4, kSpatial).module;
      m->to(DType::f64);
      uint64_t seed = 41;
      for (auto& [name, p] : m->named_parameters()) {  // away from the (1, 0) initialisation
        NoGradGuard ng;
        p.copy_(add(mul(randn64(p.shape(), seed++, false), 0.5), 1.0));
        // A blend weight kept in [0, 1] (Batch-Instance Norm's rho, clipped by each training
        // forward): strictly inside, where the forward is differentiable (as the fixture does).
        Generator g(seed++);
        if (name == "rho") p.copy_(add(mul(Tensor::rand(p.shape(), g, DType::f64), 0.8), 0.1));
      }
      Tensor xg = x.detach().requires_grad_();
      // Online Norm's training backward is a control process, not the derivative of its
      // forward (the fixture replays that algorithm); Noisy BatchNorm draws new noise at every
      // training forward. Their entries say so; eval is checked for all.
      if (find_norm(NormSpec::parse(spec).name)->exact_training_gradient)
        check_grad([&](const Ts& t) { return (*m)(t[0]); }, inputs_and_parameters(xg, *m));
      m->eval();
      check_grad([&](const Ts& t) { return (*m)(t[0]); }, inputs_and_parameters(xg, *m));
      // Eval is deterministic and leaves every buffer alone.
      const auto before = m->state_dict();
      const Tensor a = (*m)(x), b = (*m)(x);
      CHECK(test::max_abs_diff(a, b) == 0);
      for (auto& [name, t] : m->state_dict()) {
        CAPTURE(name);
        CHECK(test::max_abs_diff(t, before.at(name)) == 0);
      }
    }
  }

  TEST_CASE("every normalizer gives finite output on constant input; train and eval") {
    for (const std::string& spec : all_specs()) {
      CAPTURE(spec);
      ModulePtr m = make_norm(spec, 4, kSpatial).module;
      for (bool training : {true, false}) {
        m->train(training);
        const Tensor y = (*m)(Tensor::full({4, 4, 3, 3}, 7.0));
        CHECK(std::isfinite(sum(y).item()));
        const Tensor z = (*m)(Tensor::zeros({4, 4, 3, 3}));
        CHECK(std::isfinite(sum(z).item()));
      }
    }
  }

  TEST_CASE("every normalizer rejects a wrong rank or channel count; naming itself") {
    for (const NormEntry& entry : norm_registry()) {
      const std::string spec = entry.example_or_name();
      if (entry.family == NormFamily::identity || make_norm(spec, 4).weight_normalizer) continue;
      CAPTURE(spec);
      ModulePtr m = make_norm(spec, 4).module;
      CHECK_THROWS_AS((*m)(Tensor::zeros({4})), Error);
      if (entry.name == "lrn") continue;  // channel-count agnostic, like PyTorch's
      try {
        (*m)(Tensor::zeros({4, 5, 3, 3}));
        FAIL("no error for 5 channels");
      } catch (const Error& e) {
        // The message names the layer (or its BatchNorm part) and the offending shape.
        CHECK(std::string(e.what()).find("[4, 5, 3, 3]") != std::string::npos);
      }
    }
  }

  TEST_CASE("batch-statistics normalizers refuse a single value per channel in training") {
    for (std::string spec : {"bn", "gbn", "bgn:groups=4", "vn", "mbn", "brn", "lpbn",
                             "bcn:groups=2", "iebn", "evob0"}) {
      CAPTURE(spec);
      ModulePtr m = make_norm(spec, 4).module;
      CHECK_THROWS_WITH_AS((*m)(Tensor::ones({1, 4, 1, 1})),
                           doctest::Contains("more than 1 value per channel"), Error);
      m->eval();
      CHECK_NOTHROW((*m)(Tensor::ones({1, 4, 1, 1})));
    }
  }

  TEST_CASE("centred normalizers stay accurate on 100 + 0.01 N(0;1) input") {
    Generator g(60);
    const Tensor x = add(mul(Tensor::randn({8, 4, 4, 4}, g), 0.01), 100.0);
    // eps far below the data variance (1e-4): each output must have unit variance over its
    // statistic's axes; a one-pass E[x^2] - E[x]^2 in float32 returns noise here.
    for (std::string spec : {"gbn:virtual_batch=4,eps=1e-12", "bgn:groups=2,eps=1e-12",
                             "brn:eps=1e-12", "bcn:groups=1,eps=1e-12", "ln2d:eps=1e-12",
                             "pono:eps=1e-12", "ln:elementwise,eps=1e-12", "lpbn:p=2,eps=1e-12"}) {
      CAPTURE(spec);
      ModulePtr m = make_norm(spec, 4, {4, 4}).module;
      const Tensor y = (*m)(x);
      CHECK(var(y, {}, false).item() == doctest::Approx(1.0).epsilon(0.01));
    }
  }

  TEST_CASE("Lp BatchNorm: p = 2 is BatchNorm; p = 1 scales by the mean absolute deviation") {
    const Tensor x = add(mul(randn64({6, 4, 3, 3}, 61, false), 3.0), 2.0).detach();
    ModulePtr l2 = make_norm("lpbn:p=2", 4).module, bn = make_norm("bn", 4).module;
    l2->to(DType::f64);
    bn->to(DType::f64);
    CHECK(test::max_abs_diff((*l2)(x), (*bn)(x)) < 1e-12);
    ModulePtr l1 = make_norm("lpbn:p=1,eps=0.000001", 4).module;
    l1->to(DType::f64);
    const Tensor y = (*l1)(x);
    // Per channel the normalized output has mean |y| = 1 (up to eps).
    CHECK(mean(abs(y)).item() == doctest::Approx(1.0).epsilon(1e-5));
    CHECK_THROWS_WITH_AS(make_norm("lpbn:p=0.5", 4), doctest::Contains("p must be in [1, inf)"),
                         Error);
  }

  TEST_CASE("ln:elementwise is PyTorch's LayerNorm([C; H; W]) and needs the map size") {
    ModulePtr m = make_norm("ln:elementwise", 4, {3, 5}).module;
    CHECK(m->state_dict().at("weight").shape() == Shape{4, 3, 5});
    CHECK_THROWS_WITH_AS(make_norm("ln:elementwise", 4), doctest::Contains("feature-map size"),
                         Error);
    CHECK_THROWS_WITH_AS((*m)(Tensor::zeros({2, 4, 5, 3})),
                         doctest::Contains("expected input with shape [*, 4, 3, 5]"), Error);
  }

  TEST_CASE("Switchable Normalization starts as an even mix and learns its importances") {
    auto sn = std::dynamic_pointer_cast<SwitchableNorm>(make_norm("switch", 4).module);
    REQUIRE(sn);
    sn->to(DType::f64);
    for (double w : sn->mean_importance()) CHECK(w == doctest::Approx(1.0 / 3));
    Tensor x = add(mul(randn64({4, 4, 3, 3}, 62, false), 2.0), 1.0).detach();
    Tensor y = (*sn)(x);
    sum(mul(y, y)).backward();
    CHECK(sn->var_weight.grad().defined());
    CHECK(sn->mean_weight.grad().defined());
  }

  TEST_CASE("Batch Renormalization: warm-up schedule; clipping; and BatchNorm before warm-up") {
    BatchRenorm brn(4);  // paper schedule: r_max 1 -> 3 over steps 5k..40k, d_max 0 -> 5 by 25k
    CHECK(brn.r_max_at(0) == 1);
    CHECK(brn.d_max_at(4999) == 0);
    CHECK(brn.r_max_at(22500) == doctest::Approx(2));
    CHECK(brn.d_max_at(15000) == doctest::Approx(2.5));
    CHECK(brn.r_max_at(1e6) == 3);
    CHECK(brn.d_max_at(1e6) == 5);
    // Before warm-up r = 1 and d = 0: exactly BatchNorm with batch statistics.
    const Tensor x = add(mul(randn64({6, 4, 3, 3}, 50, false), 3.0), 2.0).detach();
    NormSlot bn = make_norm("bn", 4);
    brn.to(DType::f64);
    bn.module->to(DType::f64);
    CHECK(test::max_abs_diff(brn(x), (*bn.module)(x)) < 1e-12);
    // Once the running statistics have caught up (r, d inside their range), train and eval
    // outputs coincide: the point of the method.
    BatchRenorm settled(4, {.momentum = 1.0, .warmup_start = 0, .r_ramp_end = 0, .d_ramp_end = 0});
    settled.to(DType::f64);
    settled(x);
    const Tensor train_out = settled(x);
    settled.eval();
    CHECK(test::max_abs_diff(train_out, settled(x)) < 1e-3);
    CHECK_THROWS_WITH_AS(BatchRenorm(4, {.r_max = 0.5}), doctest::Contains("r_max must be >= 1"),
                         Error);
  }

  TEST_CASE("Batch-Instance Norm: rho learns from its default 1 and stays in [0, 1]") {
    ModulePtr m = make_norm("bin", 4, kSpatial).module;  // rho = 1: plain BatchNorm at first
    m->to(DType::f64);
    Tensor rho;
    for (auto& [name, p] : m->named_parameters())
      if (name == "rho") rho = p;
    REQUIRE(rho.defined());
    const Tensor x = add(mul(randn64({4, 4, 3, 3}, 50, false), 2.0), 1.0).detach();
    const Tensor gy = randn64({4, 4, 3, 3}, 51, false);
    sum(mul((*m)(x), gy)).backward();
    // The gradient on the bound is the one-sided derivative: nonzero, so a step can move rho.
    CHECK(test::max_abs(rho.grad()) > 1e-6);
    const Tensor outside = Tensor::from_vector({1.3, -0.2, 0.5, 1.0}, {4}, DType::f64);
    const auto set_rho = [&](const Tensor& v) {
      NoGradGuard ng;
      rho.copy_(v);
    };
    set_rho(outside);
    m->train();  // training projects rho, as the paper's clip after each optimizer step
    (*m)(x);
    CHECK(rho.to_vector() == std::vector<double>{1.0, 0.0, 0.5, 1.0});
    m->eval();
    const Tensor projected = (*m)(x);
    set_rho(outside);  // eval leaves an out-of-range rho alone and reads it as clamped
    CHECK(test::max_abs_diff((*m)(x), projected) == 0);
    CHECK(rho.to_vector() == outside.to_vector());
  }

  TEST_CASE("Cross-Iteration BN: gradcheck with a full window; eval; binding errors") {
    const auto [conv, module] = conv_and_filled_cbn("cbn:window=2,burnin=0");
    auto& cbn = dynamic_cast<CrossIterationBatchNorm&>(*module);
    CHECK(cbn.history_size.item() == 2);
    // The statistics of the window are constants: with the window held (record_statistics off)
    // the layer is a function of its input, gamma and beta, and its backward must be exact.
    cbn.record_statistics = false;
    const Tensor y = (*conv)(randn64({4, 3, 5, 5}, 90, false)).detach().requires_grad_();
    for (Tensor p : cbn.parameters()) {
      NoGradGuard ng;
      p.copy_(add(mul(randn64(p.shape(), 91, false), 0.5), 1.0));
    }
    check_grad([&](const Ts& t) { return cbn(t[0]); }, inputs_and_parameters(y, cbn));
    cbn.eval();
    check_grad([&](const Ts& t) { return cbn(t[0]); }, inputs_and_parameters(y, cbn));
    CHECK(test::max_abs_diff(cbn(y), cbn(y)) == 0);
    CHECK(std::isfinite(sum(cbn(Tensor::full({2, 4, 3, 3}, 7.0, DType::f64))).item()));

    ModulePtr unbound = make_norm("cbn", 4).module;
    CHECK_THROWS_WITH_AS((*unbound)(Tensor::ones({2, 4, 3, 3})),
                         doctest::Contains("not bound to the convolution"), Error);
    CHECK_THROWS_WITH_AS(attach_slot(make_norm("cbn", 4), std::make_shared<Linear>(3, 4)),
                         doctest::Contains("needs the Conv2d before it"), Error);
    CHECK_THROWS_WITH_AS(attach_slot(make_norm("cbn", 8), conv), doctest::Contains("expected 8"),
                         Error);
  }

  TEST_CASE("Cross-Iteration BN with window_grad: the exact derivative w.r.t. the conv weight") {
    // conv -> cbn with a held window is a function of the conv weight twice over: through the
    // current batch and through the window's Taylor terms. window_grad differentiates both; the
    // authors' gradient (the default) drops the second, so a gradcheck of the weight fails.
    for (bool window_grad : {true, false}) {
      CAPTURE(window_grad);
      const auto [conv, module] = conv_and_filled_cbn(
          std::string("cbn:window=2,burnin=0,window_grad=") + (window_grad ? "true" : "false"));
      auto& cbn = dynamic_cast<CrossIterationBatchNorm&>(*module);
      cbn.record_statistics = false;
      const Tensor x = add(randn64({4, 3, 5, 5}, 90, false), 0.5).requires_grad_();
      const auto f = [&](const Ts& t) { return cbn((*conv)(t[0])); };
      const GradcheckResult r = gradcheck(f, {x, conv->weight});
      INFO(r.message);
      CHECK(r.ok == window_grad);
    }
  }

  TEST_CASE("activation-replacing normalizers say so to the models") {
    for (std::string spec : {"frn", "evob0", "evos0:groups=2", "pn:ln", "pn:gn=2"}) {
      CAPTURE(spec);
      CHECK(make_norm(spec, 4).includes_activation);
    }
    // Proxy Norm corrects post-activation moments; with no ReLU after the slot it is plain GN.
    const NormSlot tail = make_norm("pn:gn=2", 4, {}, false);
    CHECK_FALSE(tail.includes_activation);
    CHECK(tail.module->type_name() == "GroupNorm");
    for (std::string spec : {"bn", "brn", "bcn:groups=2", "iebn", "ln2d", "pono", "rms", "lrn"}) {
      CAPTURE(spec);
      CHECK_FALSE(make_norm(spec, 4).includes_activation);
    }
  }

  TEST_CASE("frn; evob0 and evos0 drop their nonlinearity where no activation follows") {
    // timm's apply_act=False: in a residual branch's last slot they only normalize, and the
    // block's ReLU comes after the add. Expected values written out per element.
    const Tensor x = add(mul(randn64({3, 4, 2, 2}, 51, false), 2.0), 0.5).detach();
    const std::vector<double> xv = x.to_vector();
    auto at = [&](int64_t n, int64_t c, int64_t i) { return xv[(n * 4 + c) * 4 + i]; };
    auto expect_scaled = [&](const Tensor& y, auto denominator) {
      const std::vector<double> yv = y.to_vector();
      for (int64_t n = 0; n < 3; ++n)
        for (int64_t c = 0; c < 4; ++c)
          for (int64_t i = 0; i < 4; ++i)
            CHECK(yv[(n * 4 + c) * 4 + i] ==
                  doctest::Approx(at(n, c, i) / denominator(n, c)).epsilon(1e-12));
    };
    auto moments = [&](auto members) {  // biased mean/var of the elements `members` yields
      double s = 0, s2 = 0, k = 0;
      members([&](double v) { s += v, s2 += v * v, ++k; });
      const double m = s / k;
      return std::pair{m, s2 / k - m * m};
    };

    NormSlot frn = make_norm("frn", 4, {}, false);
    CHECK_FALSE(frn.includes_activation);
    frn.module->to(DType::f64);
    expect_scaled((*frn.module)(x), [&](int64_t n, int64_t c) {
      double nu2 = 0;
      for (int64_t i = 0; i < 4; ++i) nu2 += at(n, c, i) * at(n, c, i) / 4;
      return std::sqrt(nu2 + 1e-6);
    });

    NormSlot b0 = make_norm("evob0", 4, {}, false);
    CHECK_FALSE(b0.includes_activation);
    b0.module->to(DType::f64);
    expect_scaled((*b0.module)(x), [&](int64_t, int64_t c) {
      const double var = moments([&](auto add_value) {
                           for (int64_t n = 0; n < 3; ++n)
                             for (int64_t i = 0; i < 4; ++i) add_value(at(n, c, i));
                         }).second;
      return std::sqrt(var + 1e-3);
    });

    NormSlot s0 = make_norm("evos0:groups=2", 4, {}, false);
    CHECK_FALSE(s0.includes_activation);
    CHECK(s0.module->type_name() == "GroupNorm");
    s0.module->to(DType::f64);
    expect_scaled((*s0.module)(x), [&](int64_t n, int64_t c) {
      const double var = moments([&](auto add_value) {
                           for (int64_t cc = c / 2 * 2; cc < c / 2 * 2 + 2; ++cc)
                             for (int64_t i = 0; i < 4; ++i) add_value(at(n, cc, i));
                         }).second;
      return std::sqrt(var + 1e-5);
    });
    // The uncentred GroupNorm is a new combination of the shared kernels: gradcheck it.
    for (Tensor p : s0.module->parameters()) {
      NoGradGuard ng;
      p.copy_(add(mul(randn64(p.shape(), 52, false), 0.5), 1.0));
    }
    Tensor xg = x.detach().requires_grad_();
    check_grad([&](const Ts& t) { return (*s0.module)(t[0]); },
               inputs_and_parameters(xg, *s0.module));
  }

  TEST_CASE("plane_affine: gradcheck with per-sample and per-channel scales; shape errors") {
    const Tensor x = randn64({3, 4, 2, 3}, 61);
    const Tensor per_sample = randn64({3, 4}, 62), per_channel = randn64({4}, 63);
    const Tensor shift = randn64({4}, 64);
    for (const Tensor& scale : {per_sample, per_channel}) {
      check_grad([](const Ts& t) { return plane_affine(t[0], t[1], t[2], "test"); },
                 {x, scale, shift});
      check_grad([](const Ts& t) { return plane_affine(t[0], t[1], Tensor(), "test"); },
                 {x, scale});
    }
    CHECK_THROWS_WITH_AS(plane_affine(x, randn64({4, 3}, 65), shift, "IEBN"),
                         doctest::Contains("IEBN"), Error);
    CHECK_THROWS_WITH_AS(plane_affine(x, per_channel, randn64({3}, 66), "IEBN"),
                         doctest::Contains("shift of shape"), Error);
  }
}
