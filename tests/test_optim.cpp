// Optimizers and schedules beyond the PyTorch fixtures: parameter groups, state round trip,
// schedule shapes.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "autograd/ops.hpp"
#include "helpers.hpp"
#include "layers/optim/optimizer.hpp"
#include "layers/optim/schedule.hpp"

using namespace nl;

namespace {
void set_grad(Tensor& p, double g) {
  p.zero_grad();
  sum(mul(p, Tensor::full(p.shape(), g, p.dtype()))).backward();
}
}  // namespace

TEST_SUITE("optim") {
  TEST_CASE("parameter groups keep their own lr and weight decay") {
    Tensor a = Tensor::ones({2}).requires_grad_(), b = Tensor::ones({2}).requires_grad_();
    SGD opt({{.params = {a}, .lr = 0.1, .weight_decay = 0.5}, {.params = {b}, .lr = 0.01}});
    set_grad(a, 1), set_grad(b, 1);
    opt.step();
    CHECK(a.at({0}) == doctest::Approx(1 - 0.1 * (1 + 0.5)));
    CHECK(b.at({0}) == doctest::Approx(1 - 0.01));
  }

  TEST_CASE("optimizer state survives a save/load round trip") {
    auto run = [](bool interrupt) {
      Tensor p = Tensor::ones({3}).requires_grad_();
      auto opt = std::make_unique<SGD>(
          std::vector<ParamGroup>{{.params = {p}, .lr = 0.1, .momentum = 0.9}});
      for (int i = 0; i < 4; ++i) {
        if (interrupt && i == 2) {
          auto state = opt->state_dict();
          opt = std::make_unique<SGD>(
              std::vector<ParamGroup>{{.params = {p}, .lr = 0.5, .momentum = 0.0}});
          opt->load_state_dict(state);
        }
        set_grad(p, 1.0 + i);
        opt->step();
      }
      return p.to_vector();
    };
    CHECK(run(false) == run(true));
  }

  TEST_CASE("schedules: step; multi-step; cosine; warm-up") {
    Tensor p = Tensor::ones({1}).requires_grad_();
    SGD opt({{.params = {p}, .lr = 1.0}});
    StepLR step(opt, 10, 0.5);
    for (int i = 0; i < 25; ++i) step.step();
    CHECK(opt.groups()[0].lr == doctest::Approx(0.25));
    opt.groups()[0].lr = 1.0;
    MultiStepLR ms(opt, {3, 7}, 0.1);
    for (int i = 0; i < 7; ++i) ms.step();
    CHECK(opt.groups()[0].lr == doctest::Approx(0.01));
    opt.groups()[0].lr = 1.0;
    CosineLR cos(opt, 100, 0.0);
    for (int i = 0; i < 50; ++i) cos.step();
    CHECK(opt.groups()[0].lr == doctest::Approx(0.5));
    cos.set_step(100);
    CHECK(opt.groups()[0].lr == doctest::Approx(0.0));
    opt.groups()[0].lr = 1.0;
    LinearWarmup warm(opt, 10, std::make_unique<CosineLR>(opt, 100));
    CHECK(opt.groups()[0].lr == doctest::Approx(0.0));
    for (int i = 0; i < 5; ++i) warm.step();
    CHECK(opt.groups()[0].lr == doctest::Approx(0.5));
    for (int i = 0; i < 5; ++i) warm.step();
    CHECK(opt.groups()[0].lr == doctest::Approx(1.0));
    OneCycleLR one(opt, {.max_lr = 0.1, .total_steps = 100, .pct_start = 0.3});
    CHECK(opt.groups()[0].momentum == doctest::Approx(0.95));
    CHECK_THROWS_AS(OneCycleLR(opt, {.total_steps = 1}), Error);
  }
}
