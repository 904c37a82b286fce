// normlab as a library: the traps a new user fell into are correct behaviour or clear errors.
#include <doctest/doctest.h>

#include <normlab/normlab.hpp>

#include "helpers.hpp"

using namespace nl;

TEST_SUITE("library") {
  TEST_CASE("a weight-side normalizer that was never attached refuses to run") {
    for (const char* spec : {"ws", "gn+ws:groups=4", "wn", "sn", "sws"}) {
      CAPTURE(spec);
      NormSlot slot = make_norm(spec, 8);
      const Tensor x = Tensor::randn({2, 8, 4, 4});
      CHECK_THROWS_WITH_AS((*slot.module)(x), doctest::Contains("never attached"), Error);
      auto conv = std::make_shared<Conv2d>(3, 8, 3, 1, 1, false);
      attach_slot(slot, conv);
      CHECK_NOTHROW((*slot.module)((*conv)(Tensor::randn({2, 3, 4, 4}))));
    }
    CHECK_NOTHROW((*make_norm("gn:groups=4", 8).module)(Tensor::randn({2, 8, 4, 4})));
    // Cross-Iteration BN reads the convolution before it and says so itself.
    CHECK_THROWS_WITH_AS((*make_norm("cbn", 8).module)(Tensor::randn({2, 8, 4, 4})),
                         doctest::Contains("not bound to the convolution"), Error);
  }

  TEST_CASE("conv_norm_act attaches the weight side and adds the ReLU only when needed") {
    auto with_ws = conv_norm_act("gn+ws:groups=4", std::make_shared<Conv2d>(3, 8, 3, 1, 1), 8);
    const auto names = with_ws->state_dict();
    CHECK(with_ws->children().size() == 3);  // conv, gn, relu
    CHECK(with_ws->children()[2].second->type_name() == "ReLU");
    bool has_weight_norm = false;
    for (auto& [name, m] : with_ws->named_modules()) has_weight_norm |= name == "0.weight_norm";
    CHECK(has_weight_norm);
    auto frn = conv_norm_act("frn", std::make_shared<Conv2d>(3, 8, 3, 1, 1), 8);
    CHECK(frn->children().size() == 2);  // FRN+TLU is its own activation
    auto plain = conv_norm_act("bn", std::make_shared<Conv2d>(3, 8, 3, 1, 1), 8, {}, false);
    CHECK(plain->children().size() == 2);
    CHECK_NOTHROW((*with_ws)(Tensor::randn({2, 3, 6, 6})));
  }

  TEST_CASE("backward twice through a freed graph is an error; retain_graph keeps it") {
    Tensor w = Tensor::ones({3}).requires_grad_();
    Tensor loss = sum(square(w * 2.0));
    loss.backward();
    CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("second time"), Error);
    // A new loss over a freed intermediate is the same mistake.
    Tensor h = w * 3.0;
    sum(h).backward();
    CHECK_THROWS_WITH_AS(sum(h * 2.0).backward(), doctest::Contains("second time"), Error);
    w.zero_grad();
    Tensor kept = sum(square(w));
    kept.backward({}, /*retain_graph=*/true);
    kept.backward();
    CHECK(w.grad().to_vector() == std::vector<double>{4, 4, 4});  // 2 w, twice
  }

  TEST_CASE("labels as a tensor; as PyTorch takes them") {
    const Tensor logits = Tensor::randn({4, 3});
    const Tensor labels = Tensor::from_vector({0, 2, 1, 2}, {4});
    CHECK(cross_entropy(logits, labels).item() ==
          cross_entropy(logits, std::vector<int64_t>{0, 2, 1, 2}).item());
    CHECK(accuracy(logits, labels) == accuracy(logits, std::vector<int64_t>{0, 2, 1, 2}));
    CHECK_THROWS_WITH_AS(cross_entropy(logits, Tensor::from_vector({0, 1.5, 1, 2}, {4})),
                         doctest::Contains("label 1 is 1.5, not a class index"), Error);
  }

  TEST_CASE("one seed: manual_seed makes Tensor::randn and module initialisation reproducible") {
    manual_seed(7);
    const auto a = Tensor::randn({5}).to_vector();
    const auto wa = Linear(3, 2).weight.to_vector();
    manual_seed(7);
    CHECK(Tensor::randn({5}).to_vector() == a);
    CHECK(Linear(3, 2).weight.to_vector() == wa);
  }

  TEST_CASE("a normlab checkpoint loads into PyTorch's ResNet-20 and gives the same logits") {
    // tests/fixtures/make_torch_interop.py: PyTorch loaded this checkpoint (written by train)
    // with load_state_dict(strict=True) and computed eval-mode logits on 8 fixed inputs.
    const std::string dir = std::string(NORMLAB_TEST_DIR) + "/fixtures/interop/";
    const SafetensorsFile ck = load_safetensors(dir + "resnet20_bn.safetensors");
    CHECK(ck.int64_tensors.count("model.bn1.num_batches_tracked") == 1);
    std::map<std::string, Tensor> state;
    for (const auto& [k, t] : ck.tensors)
      if (k.rfind("model.", 0) == 0) state[k.substr(6)] = t;
    auto model = make_model("resnet20", {.width = 4, .norm = "bn"});
    model->load_state_dict(state);
    model->eval();
    const SafetensorsFile torch = load_safetensors(dir + "resnet20_bn_logits.safetensors");
    NoGradGuard no_grad;
    const Tensor logits = (*model)(torch.tensors.at("input"));
    const double scale = test::max_abs(torch.tensors.at("logits"));
    CHECK(scale > 0.01);
    CHECK(test::max_abs_diff(logits, torch.tensors.at("logits")) < 1e-5 * std::max(1.0, scale));
  }

  TEST_CASE("hooks: (*m)(x) runs m's hooks; m->forward(x) skips only m's own; as in PyTorch") {
    auto inner = std::make_shared<Linear>(3, 2);
    auto outer = std::make_shared<Sequential>(std::vector<ModulePtr>{inner});
    int inner_calls = 0, outer_calls = 0;
    inner->register_forward_hook([&](Module&, const Tensor&, const Tensor&) { ++inner_calls; });
    outer->register_forward_hook([&](Module&, const Tensor&, const Tensor&) { ++outer_calls; });
    const Tensor x = Tensor::randn({4, 3});
    (*outer)(x);
    CHECK(inner_calls == 1);
    CHECK(outer_calls == 1);
    outer->forward(x);  // children are still called through operator(), so their hooks run
    CHECK(inner_calls == 2);
    CHECK(outer_calls == 1);
  }

  TEST_CASE("a tensor larger than the memory available is an error, not an OOM kill") {
    CHECK_THROWS_WITH_AS(Tensor::empty({int64_t(1) << 42}),
                         doctest::Contains("this machine has available"), Error);
  }
}
