// PyTorch agreement, normalizers (the fixtures: tests/fixtures/torch_reference.hpp).
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

TEST_SUITE("norm") {
  TEST_CASE("weight-side normalizers agree with PyTorch references") {
    auto transform = [](WeightNormKind kind, bool eps_outside = false) {
      return [=](const std::vector<Tensor>& t) {
        WeightNormalizer wn(
            t[0], {.kind = kind, .eps = eps_outside ? 1e-5 : 1e-6, .eps_outside = eps_outside});
        if (t.size() > 1) wn.gain = t[1];  // the fixture's g / gain, a leaf with a gradient
        return wn(t[0]);
      };
    };
    replay("wn", {"v", "g"}, transform(WeightNormKind::wn));
    replay("cwn", {"v", "g"}, transform(WeightNormKind::cwn));
    replay("ws", {"v"}, transform(WeightNormKind::ws));
    replay("ws_outside", {"v"}, transform(WeightNormKind::ws, true));
    replay("sws", {"v", "gain"}, transform(WeightNormKind::sws));
    replay("wc", {"v"}, transform(WeightNormKind::wc));
    replay("sn", {"v"}, [](const std::vector<Tensor>& t) {
      SpectralNorm sn(t[0]);
      sn.u.copy_(T(cases().at("sn").at("u0"), t[0].dtype()));
      return sn(t[0]);
    });
  }

  TEST_CASE("Proxy Norm agrees with a PyTorch-ops reference (LN and GN variants)") {
    for (auto [name, groups] : {std::pair{"pn_ln", 1}, std::pair{"pn_gn2", 2}}) {
      replay(name, {"x", "gamma", "beta", "pgamma", "pbeta"},
             [groups = groups](const std::vector<Tensor>& t) {
               ProxyNorm pn(4, {.groups = groups});
               pn.to(t[0].dtype());
               pn.weight = t[1], pn.bias = t[2], pn.proxy_weight = t[3], pn.proxy_bias = t[4];
               return pn(t[0]);
             });
    }
  }

  TEST_CASE("Online Norm replays the paper's algorithm: streams; control process; two batches") {
    const json& c = cases().at("online");
    for (const Tol& tol : kTols) {
      CAPTURE(dtype_name(tol.dt));
      OnlineNorm norm(4, {.alpha_fwd = 0.9, .alpha_bkw = 0.8, .ecm = "none"});
      norm.to(tol.dt);
      for (const char* step : {"step1", "step2"}) {
        CAPTURE(step);
        const json& s = c.at(step);
        Tensor x = T(s.at("x"), tol.dt, true);
        norm.weight = T(s.at("gamma"), tol.dt, true);
        norm.bias = T(s.at("beta"), tol.dt, true);
        Tensor out = norm(x);
        sum(mul(out, T(s.at("gy"), tol.dt))).backward();
        check_close(out, s.at("out"), tol.rtol, tol.atol, "online output");
        check_close(x.grad(), s.at("grad_x"), tol.rtol, tol.atol, "online grad_x");
        check_close(norm.weight.grad(), s.at("grad_gamma"), tol.rtol, tol.atol, "grad_gamma");
        check_close(norm.bias.grad(), s.at("grad_beta"), tol.rtol, tol.atol, "grad_beta");
      }
      for (auto& [name, t] : norm.named_buffers())
        check_close(t, c.at("state").at(name), tol.rtol, tol.atol, "online " + name);
    }
  }

  TEST_CASE("Cross-Iteration BN agrees with a PyTorch reference over three iterations") {
    const json& c = cases().at("cbn");
    for (const Tol& tol : kTols) {
      CAPTURE(dtype_name(tol.dt));
      auto conv = std::make_shared<Conv2d>(3, 4, 3, 1, 1, false);
      CrossIterationBatchNorm cbn(4, {.window = 2, .burnin = 0});
      cbn.bind_conv(conv);
      conv->to(tol.dt);
      cbn.to(tol.dt);
      for (const char* step : {"step1", "step2", "step3"}) {
        CAPTURE(step);
        const json& s = c.at(step);
        {
          NoGradGuard no_grad;
          conv->weight.copy_(T(s.at("w"), tol.dt));
        }
        Tensor y = (*conv)(T(s.at("x"), tol.dt)).detach().requires_grad_();
        cbn.weight = T(s.at("gamma"), tol.dt, true);
        cbn.bias = T(s.at("beta"), tol.dt, true);
        Tensor out = cbn(y);
        sum(mul(out, T(s.at("gy"), tol.dt))).backward();
        // float32: the Taylor terms difference nearby weights, so allow a little more.
        const double rtol = tol.dt == DType::f32 ? 5e-4 : tol.rtol;
        check_close(out, s.at("out"), rtol, tol.atol, "cbn output");
        check_close(y.grad(), s.at("grad_y"), rtol, tol.atol, "cbn grad_y");
        check_close(cbn.weight.grad(), s.at("grad_gamma"), rtol, tol.atol, "cbn grad_gamma");
        check_close(cbn.bias.grad(), s.at("grad_beta"), rtol, tol.atol, "cbn grad_beta");
      }
      CHECK(cbn.history_size.item() == 2);
    }
  }

  TEST_CASE("adaptive gradient clipping agrees with a PyTorch reference; unit by unit") {
    for (auto& [name, c] : cases().at("agc").items()) {
      CAPTURE(name);
      for (const Tol& tol : kTols) {
        Tensor w = T(c.at("w"), tol.dt, true);
        sum(mul(w, T(c.at("g"), tol.dt))).backward();  // grad = g
        adaptive_clip_grad_({w}, 0.01, 1e-3);
        check_close(w.grad(), c.at("clipped"), tol.rtol, tol.atol, name + " clipped gradient");
      }
    }
  }

  TEST_CASE("every normalizer with a fixture agrees with its PyTorch module") {
    // Every case of make_fixtures.py's norm_case: the normalizer built from its spec, as a model
    // builds it. A new normalizer's fixture is one line there.
    int replayed = 0;
    for (const auto& [case_name, c] : cases().items()) {
      if (!c.is_object() || !c.contains("spec")) continue;
      ++replayed;
      const std::string spec = c.at("spec"), name = case_name;
      for (const Tol& tol : kTols) {
        const std::string dtype = dtype_name(tol.dt);
        CAPTURE(spec);
        CAPTURE(dtype);
        ModulePtr m = make_norm(spec, 4, {3, 3}).module;
        m->to(tol.dt);
        const auto params = m->named_parameters();
        for (auto [pname, p] : params) p.copy_(T(c.at(pname)));
        Tensor x = T(c.at("x"), tol.dt, true);
        Tensor y = (*m)(x);
        sum(mul(y, T(c.at("gy"), tol.dt))).backward();
        check_close(y, c.at("out"), tol.rtol, tol.atol, name + " train output");
        check_close(x.grad(), c.at("grad_x"), tol.rtol, tol.atol, name + " grad_x");
        for (auto& [pname, p] : params)
          check_close(p.grad(), c.at("grad_" + pname), tol.rtol, tol.atol, name + " grad_" + pname);
        {
          NoGradGuard ng;
          for (const json& s : c.at("steps")) (*m)(T(s, tol.dt));
        }
        for (auto& [bname, b] : m->named_buffers())
          if (!bname.ends_with("num_batches_tracked")) {
            REQUIRE_MESSAGE(c.contains(bname), name, ": reference lacks ", bname);
            check_close(b, c.at(bname), tol.rtol, tol.atol, name + " " + bname);
          }
        m->eval();
        NoGradGuard ng;
        check_close((*m)(T(c.at("x"), tol.dt)), c.at("eval_out"), tol.rtol, tol.atol,
                    name + " eval output");
      }
    }
    CHECK(replayed >= 27);
  }
}
