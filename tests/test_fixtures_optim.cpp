// PyTorch agreement, optimizers, schedules, gradient clipping (the fixtures:
// tests/fixtures/torch_reference.hpp).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "fixtures/torch_reference.hpp"
#include "helpers.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/linear.hpp"
#include "layers/loss.hpp"
#include "layers/norm/batch_channel_norm.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/batch_renorm.hpp"
#include "layers/norm/cross_iteration_bn.hpp"
#include "layers/norm/evo_norm.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/filter_response_norm.hpp"
#include "layers/norm/group_norm.hpp"
#include "layers/norm/instance_enhanced_bn.hpp"
#include "layers/norm/instance_norm.hpp"
#include "layers/norm/layer_norm_2d.hpp"
#include "layers/norm/local_response_norm.hpp"
#include "layers/norm/lp_batch_norm.hpp"
#include "layers/norm/online_norm.hpp"
#include "layers/norm/proxy_norm.hpp"
#include "layers/norm/rms_norm.hpp"
#include "layers/norm/switchable_norm.hpp"
#include "layers/norm/weight/spectral_norm.hpp"
#include "layers/norm/weight/weight_normalizer.hpp"
#include "layers/optim/grad_clip.hpp"
#include "layers/optim/optimizer.hpp"
#include "layers/optim/schedule.hpp"
#include "layers/pooling.hpp"

using namespace nl;
using namespace nl::fixtures;

TEST_SUITE("optim") {
  TEST_CASE("SGD; Adam and AdamW steps agree with torch.optim") {
    struct Case {
      const char* name;
      std::function<std::unique_ptr<Optimizer>(Tensor&)> make;
    };
    const Case opt_cases[] = {
        {"sgd_nesterov_wd",
         [](Tensor& p) {
           return std::make_unique<SGD>(std::vector<ParamGroup>{{.params = {p},
                                                                 .lr = 0.1,
                                                                 .weight_decay = 5e-4,
                                                                 .momentum = 0.9,
                                                                 .nesterov = true}});
         }},
        {"sgd_plain_dampening",
         [](Tensor& p) {
           return std::make_unique<SGD>(std::vector<ParamGroup>{
               {.params = {p}, .lr = 0.05, .momentum = 0.8, .dampening = 0.1}});
         }},
        {"adamw",
         [](Tensor& p) {
           return std::unique_ptr<Optimizer>(
               make_adamw({{.params = {p}, .lr = 0.01, .weight_decay = 0.1}}));
         }},
        {"adam_l2",
         [](Tensor& p) {
           return std::make_unique<Adam>(
               std::vector<ParamGroup>{{.params = {p}, .lr = 0.01, .weight_decay = 0.1}});
         }},
    };
    for (const Case& oc : opt_cases) {
      CAPTURE(oc.name);
      const json& c = cases().at(oc.name);
      for (const Tol& tol : kTols) {
        Tensor p = T(c.at("p0"), tol.dt, true);
        auto opt = oc.make(p);
        for (const char* g : {"g0", "g1"}) {
          p.zero_grad();
          sum(mul(p, T(c.at(g), tol.dt))).backward();  // grad = g
          opt->step();
        }
        check_close(p, c.at("p2"), tol.rtol, tol.atol, std::string(oc.name));
      }
    }
  }

  TEST_CASE("OneCycleLR follows PyTorch's lr and momentum exactly") {
    const json& c = cases().at("onecycle");
    Tensor p = Tensor::zeros({1}).requires_grad_();
    SGD opt({{.params = {p}, .lr = 0.1, .momentum = 0.9, .nesterov = true}});
    OneCycleLR sched(opt, {.max_lr = 0.1, .total_steps = 100, .pct_start = 0.15, .cosine = false});
    const auto lrs = c.at("lr").get<std::vector<double>>(),
               moms = c.at("momentum").get<std::vector<double>>();
    for (size_t i = 0; i < lrs.size(); ++i) {
      CAPTURE(i);
      CHECK(opt.groups()[0].lr == doctest::Approx(lrs[i]).epsilon(1e-12));
      CHECK(opt.groups()[0].momentum == doctest::Approx(moms[i]).epsilon(1e-12));
      sched.step();
    }
    CHECK(lrs.front() == doctest::Approx(0.004));
    CHECK(lrs.back() == doctest::Approx(4e-7).epsilon(1e-6));
  }
}
