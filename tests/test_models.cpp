// Models: ResNet/VGG structure and names, every normalizer plugs in, a few steps learn.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <utility>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "autograd/profiler.hpp"
#include "core/init.hpp"
#include "core/random.hpp"
#include "helpers.hpp"
#include "layers/conv/fold.hpp"
#include "layers/loss.hpp"
#include "layers/models/resnet.hpp"
#include "layers/models/vgg.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/factory.hpp"
#include "layers/optim/optimizer.hpp"

using namespace nl;

namespace {

// Running statistics and affine parameters away from their initial values, so that a wrong
// fold cannot hide behind mean 0, variance 1, gamma 1, beta 0.
void randomize_batch_norms(Module& model) {
  Generator g(17);
  for (auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<BatchNorm*>(m.get())) {
      if (bn->running.mean.defined())
        bn->running.mean.copy_(Tensor::randn(bn->running.mean.shape(), g, DType::f64) * 0.3);
      if (bn->running.var.defined())
        bn->running.var.copy_(Tensor::rand(bn->running.var.shape(), g, DType::f64) + 0.5);
      bn->weight.copy_(Tensor::randn(bn->weight.shape(), g, DType::f64) * 0.2 + 1.0);
      bn->bias.copy_(Tensor::randn(bn->bias.shape(), g, DType::f64) * 0.2);
    }
}

// The model's output under NoGradGuard, where inference folds and fuses, and the profiler's
// per-layer report of that one forward.
std::pair<Tensor, std::map<std::string, profiler::LayerTimes>> inference_forward(Module& net,
                                                                                 const Tensor& x) {
  profiler::reset();
  profiler::enable(true);
  Tensor y;
  {
    NoGradGuard no_grad;
    y = net(x);
  }
  profiler::enable(false);
  return {y, profiler::report()};
}

}  // namespace

TEST_SUITE("models") {
  TEST_CASE("inference folds BatchNorm into the convolution before it: the same outputs") {
    // ResNet-20 in float64, eval: with gradients on every layer runs as written; under
    // NoGradGuard the BatchNorm relatives are folded into their convolutions.
    Generator g(3);
    const Tensor x = Tensor::randn({3, 3, 32, 32}, g, DType::f64);
    for (const char* spec : {"bn", "bgn:groups=4", "vn", "mbn", "sbn", "gn:groups=4", "none"}) {
      CAPTURE(spec);
      manual_seed(1);
      ModulePtr net = make_model("resnet20", ModelOptions{.width = 8, .norm = spec});
      net->to(DType::f64);
      randomize_batch_norms(*net);
      net->eval();
      const Tensor unfolded = (*net)(x).detach();
      const auto [folded, times] = inference_forward(*net, x);
      const bool is_bn_family = std::string(spec) != "gn:groups=4" && std::string(spec) != "none";
      // stem + 18 branch convs + 2 projections, each folded with its normalizer (and with no
      // normalizer, each fused with its ReLU or join)
      CHECK(times.count("Conv2d+BatchNorm (folded)") == is_bn_family);
      if (is_bn_family) CHECK(times.at("Conv2d+BatchNorm (folded)").forward_calls == 21);
      if (std::string(spec) == "none") {
        CHECK(times.at("Conv2d (fused)").forward_calls == 21);
        CHECK(test::max_abs_diff(folded, unfolded) == 0);  // the same ops in the same order
      }
      CHECK(test::max_abs_diff(folded, unfolded) < 1e-12);
    }
  }

  TEST_CASE("inference folds Fixup's scalars into the convolutions: the same outputs") {
    Generator g(5);
    const Tensor x = Tensor::randn({3, 3, 16, 16}, g, DType::f64);
    manual_seed(4);
    ModulePtr net =
        make_model("resnet20", ModelOptions{.width = 8, .norm = "none", .residual = "fixup"});
    net->to(DType::f64);
    {
      // Away from the initialisation (conv2 zero, scale 1, biases 0), so every term counts.
      NoGradGuard no_grad;
      Generator r(6);
      for (auto& [name, t] : net->named_parameters())
        t.copy_(add(mul(Tensor::randn(t.shape(), r, DType::f64), 0.3), t));
    }
    net->eval();
    const Tensor unfolded = (*net)(x).detach();
    const auto [folded, times] = inference_forward(*net, x);
    // 9 blocks x 2 branch convolutions, the stem and the 2 projections
    CHECK(times.at("Conv2d (fused)").forward_calls == 21);
    // Relative to the output's size: the random scalars grow the activations block by block.
    INFO("max |output| = ", test::max_abs(unfolded));
    CHECK(test::max_abs_diff(folded, unfolded) < 1e-13 * test::max_abs(unfolded));
    CHECK(test::max_abs(unfolded) > 1e-3);
  }

  TEST_CASE("folding stays out of the way: training, frozen statistics, forward hooks") {
    Generator g(4);
    const Tensor x = Tensor::randn({4, 3, 8, 8}, g);
    manual_seed(2);
    ModulePtr net = make_model("resnet8", ModelOptions{.width = 4, .norm = "bn"});
    randomize_batch_norms(*net);
    // Training mode: batch statistics, nothing to fold (and the running statistics update).
    {
      NoGradGuard no_grad;
      const double before = net->state_dict().at("bn1.num_batches_tracked").item();
      (*net)(x);
      CHECK(net->state_dict().at("bn1.num_batches_tracked").item() == before + 1);
    }
    // A hook on a normalizer sees its own input and output: that pair runs unfolded.
    net->eval();
    ModulePtr bn1;
    for (auto& [name, m] : net->named_modules())
      if (name == "layer1.0.bn1") bn1 = m;
    REQUIRE(bn1);
    int calls = 0;
    Tensor hooked_out;
    bn1->register_forward_hook([&](Module&, const Tensor&, const Tensor& y) {
      ++calls;
      hooked_out = y;
    });
    const Tensor with_grad = (*net)(x).detach();
    const Tensor hooked_with_grad = hooked_out;
    NoGradGuard no_grad;
    const Tensor without_grad = (*net)(x);
    CHECK(calls == 2);  // called in both runs: that normalizer ran as a module
    // (the layers before it are folded in the second run: float32 rounding differs slightly)
    CHECK(test::max_abs_diff(hooked_out, hooked_with_grad) < 1e-5);
    CHECK(test::max_abs_diff(with_grad, without_grad) < 1e-5);
  }

  TEST_CASE("with gradients on, eval keeps the normalizer's own backward (gamma, beta learn)") {
    manual_seed(5);
    ModulePtr net = make_model("resnet8", ModelOptions{.width = 4, .norm = "bn:frozen"});
    Generator g(6);
    const Tensor x = Tensor::randn({2, 3, 8, 8}, g);
    sum((*net)(x)).backward();
    for (auto& [name, p] : net->named_parameters())
      if (name == "bn1.weight") CHECK(p.grad().defined());
  }

  TEST_CASE("ResNet-20 has the CIFAR structure and PyTorch-style names") {
    ResNet net(20);
    // 3 stages x 3 blocks x 2 convs + stem + 2 projection shortcuts = 21 convs.
    int convs = 0;
    for (auto& [name, m] : net.named_modules()) convs += m->type_name() == "Conv2d";
    CHECK(convs == 21);
    CHECK(net.num_parameters() == 272474);
    const auto sd = net.state_dict();
    for (const char* key :
         {"conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.0.bn2.bias",
          "layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.running_var",
          "layer3.2.bn2.num_batches_tracked", "fc.weight", "fc.bias"})
      CHECK_MESSAGE(sd.count(key) == 1, key);
    CHECK(sd.count("layer1.0.shortcut.0.weight") == 0);  // identity shortcut in stage 1
    Tensor y = net(Tensor::zeros({2, 3, 32, 32}));
    CHECK(y.shape() == Shape{2, 10});
    CHECK_THROWS_WITH_AS(ResNet(21), doctest::Contains("6n+2"), Error);
    CHECK_THROWS_WITH_AS(net(Tensor::zeros({2, 1, 32, 32})),
                         doctest::Contains("expected images (N, 3, H, W)"), Error);
    CHECK_THROWS_AS(make_model("resnet2x", 16, "bn"), Error);
  }

  TEST_CASE("every factory normalizer builds a ResNet and a VGG that run forward and backward") {
    for (const auto& info : list_norms()) {
      CAPTURE(info.name);
      for (const char* model : {"resnet8", "vgg5"}) {
        auto net = make_model(model, 8, info.name);
        Tensor y = (*net)(Tensor::ones({4, 3, 16, 16}));
        sum(y).backward();
        CHECK(y.shape() == Shape{4, 10});
        CHECK(net->parameters()[0].grad().defined());
      }
    }
  }

  TEST_CASE("a small ResNet on random data lowers the loss in a few SGD steps") {
    for (std::string norm : {"bn", "gn:groups=2", "ln", "in", "none"}) {
      CAPTURE(norm);
      manual_seed(1);
      auto net = make_model("resnet8", 4, norm);
      Generator g(2);
      Tensor x = Tensor::randn({16, 3, 12, 12}, g);
      std::vector<int64_t> y(16);
      for (int i = 0; i < 16; ++i) y[i] = i % 10;
      SGD opt({{.params = net->parameters(), .lr = 0.05, .momentum = 0.9}});
      double first = 0, last = 0;
      for (int step = 0; step < 12; ++step) {
        opt.zero_grad();
        Tensor loss = cross_entropy((*net)(x), y);
        loss.backward();
        opt.step();
        (step == 0 ? first : last) = loss.item();
      }
      MESSAGE(norm, ": ", first, " -> ", last);
      // Without normalization the PyTorch-default-initialised signal shrinks layer by layer and
      // the first steps move slowly (a finding of its own; docs/norms/index.md).
      CHECK(last < (norm == "none" ? 1.0 : 0.8) * first);
    }
  }

  TEST_CASE("Kaiming-normal option re-initialises convolutions") {
    ResNet net(8, {.width = 16, .kaiming_normal = true});
    const Tensor w = net.layer3->named_parameters()[0].second;  // (64, 32, 3, 3)
    CHECK(std::sqrt(var(w).item()) == doctest::Approx(std::sqrt(2.0 / (32 * 9))).epsilon(0.1));
  }
}
