// Training without (or beside) normalization: SkipInit, Fixup, adaptive gradient clipping, and
// the weight-decay exclusions layers ask for (Proxy Norm).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "helpers.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/linear.hpp"
#include "layers/loss.hpp"
#include "layers/models/resnet.hpp"
#include "layers/optim/grad_clip.hpp"
#include "layers/optim/optimizer.hpp"

using namespace nl;

namespace {

bool all_zero(const Tensor& t) {
  const auto v = t.to_vector();
  return std::all_of(v.begin(), v.end(), [](double x) { return x == 0; });
}

// Random values for every parameter, so that no gradient path is switched off by a zero init.
void randomize(Module& m, uint64_t seed) {
  NoGradGuard no_grad;
  Generator g(seed);
  for (Tensor p : m.parameters())
    p.copy_(mul(Tensor::randn(p.shape(), g, p.dtype()), p.dim() <= 1 ? 0.5 : 0.3));
}

}  // namespace

TEST_SUITE("remedies") {
  TEST_CASE("SkipInit: every block starts as the identity and its gain gets the gradient") {
    manual_seed(3);
    ResNet net(8, {.width = 8, .norm = "none", .residual = "skipinit"});
    CHECK(net.state_dict().count("layer1.0.skip_gain") == 1);
    Tensor block_in, block_out;
    auto& block = *net.layer1->children()[0].second;  // identity shortcut
    block.register_forward_hook(
        [&](Module&, const Tensor& in, const Tensor& out) { block_in = in, block_out = out; });
    Generator g(4);
    const Tensor loss = cross_entropy(net(Tensor::randn({4, 3, 16, 16}, g)), {1, 2, 3, 4});
    loss.backward();
    // relu(0 * branch + x) = x, because x already went through a ReLU.
    CHECK(test::max_abs_diff(block_out, block_in) == 0);
    CHECK(std::abs(test::parameter(net, "layer1.0.skip_gain").grad().item()) > 0);
    // With the gain at 0 the branch's convolutions get no gradient yet.
    CHECK(all_zero(test::parameter(net, "layer1.0.conv2.weight").grad()));
  }

  TEST_CASE("Fixup initialisation: zero last conv and classifier; scaled first conv") {
    manual_seed(5);
    ResNet net(20, {.width = 16, .norm = "none", .residual = "fixup"});
    const int64_t branches = 9;
    for (const char* name : {"layer1.0.conv2.weight", "layer3.2.conv2.weight", "fc.weight",
                             "fc.bias", "layer2.1.bias1a", "bias1", "bias2"})
      CHECK_MESSAGE(all_zero(test::parameter(net, name)), name);
    CHECK(test::parameter(net, "layer2.1.scale").item() == 1);
    // Kaiming-normal on fan_out = 16 * 3 * 3, times L^(-1/2).
    const Tensor w = test::parameter(net, "layer1.1.conv1.weight");
    CHECK(std::sqrt(var(w).item()) ==
          doctest::Approx(std::sqrt(2.0 / (16 * 9)) / std::sqrt(double(branches))).epsilon(0.08));
    Generator g(6);
    CHECK(all_zero(net(Tensor::randn({2, 3, 32, 32}, g))));

    // Weight-normalized convolutions cannot output zero from a zero weight: the branch
    // multiplier starts at zero instead.
    auto wn = make_model("resnet8", {.width = 8, .norm = "wn", .residual = "fixup"});
    CHECK(all_zero(test::parameter(*wn, "layer1.0.scale")));
    CHECK_FALSE(all_zero(test::parameter(*wn, "layer1.0.conv2.weight")));
  }

  TEST_CASE("SkipInit and Fixup blocks pass a float64 gradcheck") {
    for (std::string residual : {"skipinit", "fixup"}) {
      for (std::string norm : {"none", "gn:groups=2"}) {
        CAPTURE(residual);
        CAPTURE(norm);
        auto net = make_model("resnet8", {.width = 4, .norm = norm, .residual = residual});
        net->to(DType::f64);
        randomize(*net, 7);
        // The input and the remedy's own scalars; the convolutions are covered elsewhere.
        std::vector<Tensor> inputs{test::randn64({2, 3, 6, 6}, 8)};
        for (auto& [name, p] : net->named_parameters())
          if (p.numel() == 1) inputs.push_back(p);
        CHECK(inputs.size() == (residual == "skipinit" ? 1 + 3 : 1 + 5 * 3 + 2));
        test::check_grad([&](const std::vector<Tensor>& t) { return (*net)(t[0]); }, inputs);
      }
    }
  }

  TEST_CASE("a remedy needs residual blocks; unknown remedies are named") {
    CHECK_THROWS_WITH_AS(make_model("vgg5", {.residual = "skipinit"}),
                         doctest::Contains("no residual blocks"), Error);
    CHECK_THROWS_WITH_AS(make_model("resnet8", {.residual = "rezero"}),
                         doctest::Contains("unknown residual remedy 'rezero'"), Error);
  }

  TEST_CASE("AGC in the optimizer equals clipping by hand; then the plain step") {
    Generator g(9);
    Tensor a = Tensor::randn({3, 4}, g, DType::f64).requires_grad_();
    Tensor b = a.detach().clone().requires_grad_();
    const Tensor grad = mul(Tensor::randn({3, 4}, g, DType::f64), 0.2);
    sum(mul(a, grad)).backward();
    sum(mul(b, grad)).backward();
    SGD with_agc({{.params = {a}, .lr = 0.1, .momentum = 0.9, .agc_clip = 0.02}});
    with_agc.step();
    adaptive_clip_grad_({b}, 0.02);
    CHECK_FALSE(test::max_abs_diff(b.grad(), grad) == 0);  // something was clipped
    SGD plain({{.params = {b}, .lr = 0.1, .momentum = 0.9}});
    plain.step();
    CHECK(test::max_abs_diff(a, b) < 1e-15);
    CHECK_THROWS_AS(SGD({{.params = {a}, .agc_clip = -1}}), Error);
  }
}
