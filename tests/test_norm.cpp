// Normalization layers: gradchecks in train and eval, running statistics, stability, errors.
// (Agreement with PyTorch modules is in test_fixtures.cpp.)
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/ops.hpp"
#include "core/parallel.hpp"
#include "helpers.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/filter_response_norm.hpp"
#include "layers/norm/group_norm.hpp"
#include "layers/norm/instance_norm.hpp"
#include "layers/norm/plane_norm.hpp"

using namespace nl;
using test::check_grad;
using test::randn64;
using Ts = std::vector<Tensor>;

namespace {
// Affine parameters away from (1, 0) so their gradients are exercised properly.
void randomize_affine(Tensor& w, Tensor& b, uint64_t seed) {
  if (w.defined()) w.copy_(add(randn64(w.shape(), seed, false), 1.0));
  if (b.defined()) b.copy_(randn64(b.shape(), seed + 1, false));
}
}  // namespace

TEST_SUITE("norm") {
  TEST_CASE("BatchNorm gradcheck in training and eval; 2d and 1d") {
    BatchNorm bn(3);
    bn.to(DType::f64);
    randomize_affine(bn.weight, bn.bias, 1);
    Tensor x = randn64({4, 3, 3, 2}, 2);
    check_grad([&](const Ts& t) { return bn(t[0]); }, {x, bn.weight, bn.bias});
    bn.eval();
    check_grad([&](const Ts& t) { return bn(t[0]); }, {x, bn.weight, bn.bias});
    BatchNorm bn1(5);
    bn1.to(DType::f64);
    randomize_affine(bn1.weight, bn1.bias, 3);
    check_grad([&](const Ts& t) { return bn1(t[0]); }, {randn64({6, 5}, 4), bn1.weight, bn1.bias});
  }

  TEST_CASE("BatchNorm relatives: ghost; batch-group; variance-only; mean-only gradchecks") {
    const std::pair<const char*, BatchNormOptions> variants[] = {
        {"gbn", {.virtual_batch = 2}},
        {"bgn", {.groups = 2}},
        {"vn", {.math = {.subtract_mean = false}}},
        {"mbn", {.math = {.divide_std = false}}},
    };
    Tensor x = add(randn64({4, 4, 3, 2}, 20, false), 0.7).detach().requires_grad_();
    for (const auto& [name, options] : variants) {
      CAPTURE(std::string(name));
      BatchNorm bn(4, options);
      bn.to(DType::f64);
      randomize_affine(bn.weight, bn.bias, 21);
      check_grad([&](const Ts& t) { return bn(t[0]); }, {x, bn.weight, bn.bias});
      bn.eval();
      check_grad([&](const Ts& t) { return bn(t[0]); }, {x, bn.weight, bn.bias});
    }
    // The uncentred second moment (RMS-style statistics) through the same core.
    StatLayout layout = StatLayout::of(x, 1, 1, "rms");
    check_grad(
        [&](const Ts& t) {
          return plane_norm(t[0], t[1], Tensor(), layout, 1e-5, nullptr, "rms",
                            {.subtract_mean = false, .center_variance = false})
              .y;
        },
        {x, add(randn64({4}, 22, false), 1.0).detach().requires_grad_()});
    CHECK_THROWS_WITH_AS(BatchNorm(4, {.virtual_batch = 3})(Tensor::zeros({4, 4, 2, 2})),
                         doctest::Contains("cannot be split into groups of 3"), Error);
    CHECK_THROWS_WITH_AS(BatchNorm(4, {.groups = 3}), doctest::Contains("groups=3 must divide"),
                         Error);
  }

  TEST_CASE("GroupNorm; LayerNorm and InstanceNorm gradchecks") {
    Tensor x = randn64({3, 4, 3, 3}, 5);
    for (int64_t groups : {1, 2, 4}) {
      CAPTURE(groups);
      GroupNorm gn(groups, 4);
      gn.to(DType::f64);
      randomize_affine(gn.weight, gn.bias, 6);
      check_grad([&](const Ts& t) { return gn(t[0]); }, {x, gn.weight, gn.bias});
    }
    InstanceNorm2d in(4, {.affine = true});
    in.to(DType::f64);
    randomize_affine(in.weight, in.bias, 7);
    check_grad([&](const Ts& t) { return in(t[0]); }, {x, in.weight, in.bias});
    InstanceNorm2d in_track(4, {.affine = false, .track_running_stats = true});
    in_track.to(DType::f64);
    check_grad([&](const Ts& t) { return in_track(t[0]); }, {x});
    in_track.eval();
    check_grad([&](const Ts& t) { return in_track(t[0]); }, {x});
  }

  TEST_CASE("FilterResponseNorm + TLU gradcheck; train and eval identical") {
    FilterResponseNorm frn(4);
    frn.to(DType::f64);
    randomize_affine(frn.weight, frn.bias, 30);
    frn.tau.copy_(mul(randn64({4}, 31, false), 0.3));
    Tensor x = randn64({2, 4, 3, 3}, 32);
    check_grad([&](const Ts& t) { return frn(t[0]); }, {x, frn.weight, frn.bias, frn.tau});
    Tensor train_out = frn(x);
    frn.eval();
    CHECK(test::max_abs_diff(train_out, frn(x)) == 0);
    CHECK(make_norm("frn", 4).includes_activation);
    CHECK_FALSE(make_norm("frn:tlu=false", 4).includes_activation);
    CHECK_THROWS_WITH_AS(frn(Tensor::zeros({2, 5, 3, 3}, DType::f64)),
                         doctest::Contains("FilterResponseNorm"), Error);
  }

  TEST_CASE("BatchNorm running statistics follow PyTorch's convention") {
    BatchNorm bn(2, {.momentum = 0.1});
    bn.to(DType::f64);
    Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}, DType::f64);
    bn(x);
    // channel 0 values {1,2,5,6}: mean 3.5, unbiased var 17/3 (normalization uses 17/4)
    CHECK(bn.running.mean.at({0}) == doctest::Approx(0.35));
    CHECK(bn.running.var.at({0}) == doctest::Approx(0.9 + 0.1 * 17.0 / 3));
    CHECK(bn.running.num_batches_tracked.item() == 1);
    bn.eval();
    Tensor y1 = bn(x), y2 = bn(x);
    CHECK(test::max_abs_diff(y1, y2) == 0);
    CHECK(bn.running.num_batches_tracked.item() == 1);  // untouched in eval
    // Eval uses the running statistics.
    CHECK(y1.at({0, 0, 0}) ==
          doctest::Approx((1 - 0.35) / std::sqrt(bn.running.var.at({0}) + 1e-5)));
    // Cumulative average (momentum None).
    BatchNorm cum(2, {.momentum = std::nullopt});
    cum.to(DType::f64);
    cum(x);
    cum(add(x, 2.0));
    CHECK(cum.running.mean.at({0}) == doctest::Approx((3.5 + 5.5) / 2));
  }

  TEST_CASE("frozen BatchNorm survives train() and updates nothing") {
    BatchNorm bn(2, {.frozen = true});
    bn.train();
    Tensor x = add(mul(Tensor::ones({4, 2, 2, 2}), 3.0), 0.0);
    Tensor y = bn(x);
    CHECK(bn.running.num_batches_tracked.item() == 0);
    CHECK(y.at({0, 0, 0, 0}) == doctest::Approx(3 / std::sqrt(1 + 1e-5)));
  }

  TEST_CASE("offset input stays accurate and zero variance stays finite") {
    Generator g(9);
    Tensor x = add(mul(Tensor::randn({8, 4, 8, 8}, g), 0.01), 100.0);
    // eps far below the data variance (1e-4), so the output variance must be 1.
    for (std::string spec :
         {"bn:eps=1e-12", "gn:groups=2,eps=1e-12", "ln:eps=1e-12", "in:eps=1e-12"}) {
      CAPTURE(spec);
      NormSlot slot = make_norm(spec, 4);
      Tensor y = (*slot.module)(x);
      // Normalized output must have unit variance per group; the naive one-pass formula
      // returns garbage here.
      CHECK(var(y, {}, false).item() == doctest::Approx(1.0).epsilon(0.01));
      Tensor c = Tensor::full({4, 4, 3, 3}, 5.0);
      Tensor yc = (*slot.module)(c);
      CHECK(std::isfinite(sum(yc).item()));
      CHECK(max(abs(yc)).item() == 0);
    }
  }

  TEST_CASE("results do not depend on the thread count") {
    Generator g(10);
    Tensor x = Tensor::randn({16, 8, 8, 8}, g);
    for (const char* spec : {"bn", "gn:groups=4"}) {
      auto run = [&](int threads) {
        set_num_threads(threads);
        NormSlot slot = make_norm(spec, 8);
        Tensor xi = x.detach().requires_grad_();
        Tensor y = (*slot.module)(xi);
        sum(y * y * y).backward();
        return std::pair{y, xi.grad()};
      };
      auto a = run(1), b = run(2);
      set_num_threads(0);
      CHECK(test::max_abs_diff(a.first, b.first) == 0);
      CHECK(test::max_abs_diff(a.second, b.second) == 0);
    }
  }

  TEST_CASE("bad input names the layer") {
    BatchNorm bn(3, {}, 4);
    CHECK_THROWS_WITH_AS(bn(Tensor::zeros({2, 3})),
                         doctest::Contains("BatchNorm2d: expected 4-D input"), Error);
    CHECK_THROWS_WITH_AS(bn(Tensor::zeros({2, 4, 2, 2})), doctest::Contains("expected 3 channels"),
                         Error);
    CHECK_THROWS_WITH_AS(bn(Tensor::zeros({1, 3, 1, 1})),
                         doctest::Contains("more than 1 value per channel"), Error);
    bn.eval();
    CHECK_NOTHROW(bn(Tensor::zeros({1, 3, 1, 1})));  // eval allows a single value
    CHECK_THROWS_WITH_AS(GroupNorm(3, 8),
                         doctest::Contains("num_groups=3 must divide num_channels=8"), Error);
    CHECK_THROWS_WITH_AS(make_norm("gn:group_size=3", 8),
                         doctest::Contains("group_size=3 must divide"), Error);
    CHECK_THROWS_WITH_AS(make_norm("bogus", 8), doctest::Contains("unknown normalizer 'bogus'"),
                         Error);
    CHECK_THROWS_WITH_AS(make_norm("bn:momentun=0.1", 8),
                         doctest::Contains("unknown argument 'momentun'"), Error);
    CHECK_THROWS_WITH_AS(make_norm("gn:groups=x", 8), doctest::Contains("is not a number"), Error);
    InstanceNorm2d in(3);
    CHECK_THROWS_WITH_AS(in(Tensor::zeros({2, 3, 1, 1})), doctest::Contains("InstanceNorm2d"),
                         Error);
  }

  TEST_CASE("factory specs build the documented layers") {
    auto gn = std::dynamic_pointer_cast<GroupNorm>(make_norm("gn:group_size=4", 16).module);
    REQUIRE(gn);
    CHECK(gn->num_groups == 4);
    auto ln = std::dynamic_pointer_cast<GroupNorm>(make_norm("ln", 16).module);
    REQUIRE(ln);
    CHECK(ln->num_groups == 1);
    auto bn =
        std::dynamic_pointer_cast<BatchNorm>(make_norm("bn:momentum=none,eps=1e-3", 16).module);
    REQUIRE(bn);
    CHECK_FALSE(bn->options.momentum.has_value());
    CHECK(bn->options.eps == 1e-3);
    // Every built-in normalizer is registered: one that disappears fails here. (New ones need no
    // change here; noisybn belongs to the apps, apps/common/noisy_batch_norm.)
    const std::vector<std::string> expected = {
        "none", "bcn",    "bn",     "gbn",   "bgn", "vn",  "mbn", "brn", "cbn", "evob0", "iebn",
        "lpbn", "online", "switch", "evos0", "frn", "gn",  "in",  "ln",  "pn",  "rms",   "ln2d",
        "pono", "rms2d",  "lrn",    "sn",    "ws",  "sws", "wn",  "cwn", "wc"};
    for (const std::string& name : expected) CHECK_MESSAGE(find_norm(name), name, " is missing");
    CHECK(norm_registry().size() >= expected.size());
  }
}
