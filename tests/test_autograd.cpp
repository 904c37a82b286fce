// Autograd engine: accumulation, reuse, no-grad, hooks, graph release, module state.
#include <doctest/doctest.h>

#include "autograd/gradcheck.hpp"
#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "autograd/profiler.hpp"
#include "helpers.hpp"
#include "layers/activation.hpp"
#include "layers/container.hpp"
#include "layers/linear.hpp"

using namespace nl;

TEST_SUITE("autograd") {
  TEST_CASE("a tensor used twice receives both gradient terms") {
    Tensor x = Tensor::from_vector({2, 3}, {2}, DType::f64).requires_grad_();
    Tensor y = sum(x * x + x);  // dy/dx = 2x + 1
    y.backward();
    CHECK(x.grad().to_vector() == std::vector<double>{5, 7});
    // Gradients accumulate across backward calls until zero_grad, like PyTorch.
    sum(x * 3.0).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{8, 10});
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
  }

  TEST_CASE("diamond graph and broadcasting reduce to the input shape") {
    Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64).requires_grad_();
    Tensor b = Tensor::from_vector({1, 1, 1}, {3}, DType::f64).requires_grad_();
    Tensor h = a * b;
    Tensor y = sum(h * h + h);
    y.backward();
    // dy/db_j = sum_i (2 a_ij^2 b_j + a_ij)
    CHECK(b.grad().shape() == Shape{3});
    CHECK(b.grad().to_vector() ==
          std::vector<double>{2 * (1 + 16) + 5, 2 * (4 + 25) + 7, 2 * (9 + 36) + 9});
  }

  TEST_CASE("clamp passes the gradient on its bounds, as PyTorch's does") {
    Tensor x = Tensor::from_vector({-1, 0, 0.5, 1, 2}, {5}, DType::f64).requires_grad_();
    sum(clamp(x, 0, 1)).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{0, 1, 1, 1, 0});
  }

  TEST_CASE("no-grad records nothing") {
    Tensor x = Tensor::ones({2}).requires_grad_();
    {
      NoGradGuard guard;
      Tensor y = x * 2.0;
      CHECK_FALSE(y.requires_grad());
      CHECK_FALSE(y.grad_fn());
    }
    CHECK((x * 2.0).requires_grad());
  }

  TEST_CASE("the graph is released after backward") {
    Tensor x = Tensor::ones({3}).requires_grad_();
    Tensor y = sum(exp(x));
    std::weak_ptr<Node> node = y.grad_fn();
    CHECK_FALSE(node.expired());
    y.backward();
    CHECK(node.expired());
  }

  TEST_CASE("the graph keeps only saved tensors alive, and frees them as backward passes") {
    // x * 3 and sum save nothing of their input: the intermediate dies with its last handle,
    // as in PyTorch, and backward still reaches x through the node that computed it.
    Tensor x = Tensor::from_vector({1, 2}, {2}, DType::f64).requires_grad_();
    Tensor h = x * 3.0;
    std::weak_ptr<Storage> h_storage = h.impl().storage;
    Tensor y = sum(h * 2.0);
    h = Tensor();
    CHECK(h_storage.expired());
    y.backward();
    CHECK(x.grad().to_vector() == std::vector<double>{6, 6});

    // exp saves its output; it is freed once exp's backward has run, before the pass ends
    // (observed from a hook on the leaf, which runs last).
    Tensor e = exp(x);
    std::weak_ptr<Storage> e_storage = e.impl().storage;
    Tensor loss = sum(e * 3.0);
    e = Tensor();
    CHECK_FALSE(e_storage.expired());  // saved by exp for its backward
    bool freed_before_leaf = false;
    x.register_hook([&](const Tensor&) {
      freed_before_leaf = e_storage.expired();
      return Tensor();
    });
    loss.backward();
    CHECK(freed_before_leaf);
  }

  TEST_CASE("a hook on a dropped intermediate still runs; one graph twice is still refused") {
    Tensor x = Tensor::from_vector({1, 2}, {2}, DType::f64).requires_grad_();
    Tensor h = x * 3.0;
    int calls = 0;
    h.register_hook([&](const Tensor& g) {
      ++calls;
      return mul(g, 2.0);
    });
    Tensor y = sum(h * 1.0);
    Tensor z = sum(h * 5.0);  // shares h's node
    h = Tensor();
    y.backward();
    CHECK(calls == 1);
    CHECK(x.grad().to_vector() == std::vector<double>{6, 6});
    CHECK_THROWS_WITH_AS(z.backward(), doctest::Contains("second time"), Error);
  }

  TEST_CASE("gradient hooks observe and may replace a gradient") {
    Tensor x = Tensor::from_vector({1, 2}, {2}, DType::f64).requires_grad_();
    Tensor h = x * 3.0;
    double seen = 0;
    h.register_hook([&](const Tensor& g) {
      seen = sum(g).item();
      return mul(g, 2.0);
    });
    sum(h).backward();
    CHECK(seen == 2);
    CHECK(x.grad().to_vector() == std::vector<double>{6, 6});
  }

  TEST_CASE("retain_grad keeps an intermediate gradient") {
    Tensor x = Tensor::from_vector({1, 2}, {2}, DType::f64).requires_grad_();
    Tensor h = x * 2.0;
    h.retain_grad();
    sum(h * h).backward();
    CHECK(h.grad().to_vector() == std::vector<double>{4, 8});
  }

  TEST_CASE("backward errors are explicit") {
    Tensor x = Tensor::ones({2});
    CHECK_THROWS_WITH_AS(x.backward(), doctest::Contains("does not require grad"), Error);
    Tensor y = Tensor::ones({2}).requires_grad_() * 2.0;
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("scalar output"), Error);
  }

  TEST_CASE("modules: names; state_dict round trip; forward hooks; train/eval") {
    Sequential net;
    net.emplace<Linear>(4, 3);
    net.emplace<Dropout>(0.5);
    net.emplace<Linear>(3, 2, false);
    auto names = net.named_parameters();
    REQUIRE(names.size() == 3);
    CHECK(names[0].first == "0.weight");
    CHECK(names[1].first == "0.bias");
    CHECK(names[2].first == "2.weight");
    CHECK(net.num_parameters() == 4 * 3 + 3 + 3 * 2);
    auto state = net.state_dict();
    Sequential other;
    other.emplace<Linear>(4, 3);
    other.emplace<Dropout>(0.5);
    other.emplace<Linear>(3, 2, false);
    other.load_state_dict(state);
    CHECK(test::max_abs_diff(other.parameters()[0], net.parameters()[0]) == 0);
    state.erase("2.weight");
    CHECK_THROWS_WITH_AS(other.load_state_dict(state), doctest::Contains("missing key '2.weight'"),
                         Error);
    int calls = 0;
    net[0]->register_forward_hook([&](Module&, const Tensor& in, const Tensor& out) {
      ++calls;
      CHECK(in.shape() == Shape{5, 4});
      CHECK(out.shape() == Shape{5, 3});
    });
    net.eval();
    CHECK_FALSE(net[1]->is_training());
    Tensor x = Tensor::ones({5, 4});
    Tensor y1 = net(x), y2 = net(x);
    CHECK(calls == 2);
    CHECK(test::max_abs_diff(y1, y2) == 0);  // dropout off in eval
  }

  TEST_CASE("the profiler charges forward self time and backward time to layer types") {
    Sequential net;
    net.emplace<Linear>(4, 3);
    net.emplace<ReLU>();
    net.emplace<Linear>(3, 2);
    profiler::reset();
    profiler::enable(true);
    Tensor loss = sum(net(Tensor::ones({5, 4})));
    loss.backward();
    profiler::enable(false);
    auto times = profiler::report();
    REQUIRE(times.count("Linear"));
    REQUIRE(times.count("ReLU"));
    REQUIRE(times.count("Sequential"));
    CHECK(times["Linear"].forward_calls == 2);
    CHECK(times["ReLU"].forward_calls == 1);
    CHECK(times["Linear"].backward_calls >= 2);  // each Linear records its own nodes
    CHECK(times["ReLU"].backward_calls == 1);
    CHECK(times["Sequential"].backward_calls == 0);         // records nothing itself
    CHECK(times["(outside modules)"].backward_calls == 1);  // the sum
    for (auto& [name, t] : times) CHECK(t.forward_s >= 0);
    profiler::reset();
    Tensor again = net(Tensor::ones({5, 4}));  // profiling off: nothing recorded
    CHECK(profiler::report().empty());
  }
}
