// float64 gradient checks of every differentiable core op, and proof that the checker rejects
// a wrong backward.
#include <doctest/doctest.h>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "helpers.hpp"

using namespace nl;
using test::check_grad;
using test::randn64;
using Ts = std::vector<Tensor>;

TEST_SUITE("gradcheck") {
  TEST_CASE("binary ops with broadcasting") {
    Tensor a = randn64({3, 4}, 1), b = randn64({4}, 2), c = randn64({3, 1}, 3);
    check_grad([](const Ts& t) { return add(t[0], t[1]); }, {a, b});
    check_grad([](const Ts& t) { return sub(t[0], t[1]); }, {a, c});
    check_grad([](const Ts& t) { return mul(t[0], t[1]); }, {a, b});
    Tensor pos = add(abs(randn64({4}, 4, false)), 0.5).detach().requires_grad_();
    check_grad([](const Ts& t) { return div(t[0], t[1]); }, {a, pos});
    check_grad([](const Ts& t) { return maximum(t[0], t[1]); }, {a, c});
    check_grad([](const Ts& t) { return add_relu(t[0], t[1]); },  // fused residual join
               {a, randn64({3, 4}, 7)});
    check_grad([](const Ts& t) { return add_relu(t[0], t[1]); }, {a, b});  // broadcast fallback
    check_grad([](const Ts& t) { return t[0] * 3.0 + 1.0; }, {a});
  }

  TEST_CASE("unary ops") {
    Tensor a = randn64({2, 5}, 5);
    Tensor pos = add(abs(randn64({2, 5}, 6, false)), 0.5).detach().requires_grad_();
    for (auto f :
         {+[](const Tensor& x) { return neg(x); }, +[](const Tensor& x) { return exp(x); },
          +[](const Tensor& x) { return relu(x); }, +[](const Tensor& x) { return sigmoid(x); },
          +[](const Tensor& x) { return nl::tanh(x); }, +[](const Tensor& x) { return silu(x); },
          +[](const Tensor& x) { return leaky_relu(x, 0.1); },
          +[](const Tensor& x) { return square(x); }, +[](const Tensor& x) { return abs(x); },
          +[](const Tensor& x) { return clamp(x, -0.5, 0.7); }})
      check_grad([f](const Ts& t) { return f(t[0]); }, {a});
    for (auto f :
         {+[](const Tensor& x) { return log(x); }, +[](const Tensor& x) { return sqrt(x); },
          +[](const Tensor& x) { return pow(x, 1.5); }})
      check_grad([f](const Ts& t) { return f(t[0]); }, {pos});
  }

  TEST_CASE("reductions") {
    Tensor a = randn64({3, 4, 2}, 7);
    check_grad([](const Ts& t) { return sum(t[0], {0, 2}); }, {a});
    check_grad([](const Ts& t) { return mean(t[0], {1}, true); }, {a});
    check_grad([](const Ts& t) { return max(t[0], {2}); }, {a});
    check_grad([](const Ts& t) { return var(t[0], {0, 1}, true); }, {a});
    check_grad([](const Ts& t) { return var(t[0], {2}, false, true); }, {a});
  }

  TEST_CASE("views and matmul") {
    Tensor a = randn64({2, 3, 4}, 8), m = randn64({4, 5}, 9), b = randn64({2, 4, 2}, 10);
    check_grad([](const Ts& t) { return t[0].permute({2, 0, 1}) * 2.0; }, {a});
    check_grad([](const Ts& t) { return t[0].narrow(1, 1, 2); }, {a});
    check_grad([](const Ts& t) { return t[0].reshape({6, 4}).transpose(0, 1); }, {a});
    check_grad([](const Ts& t) { return t[0].narrow(2, 0, 1).expand({2, 3, 5}); }, {a});
    check_grad([](const Ts& t) { return t[0].unsqueeze(1).squeeze(1).flatten(); }, {a});
    check_grad([](const Ts& t) { return matmul(t[0].reshape({6, 4}), t[1]); }, {a, m});
    check_grad([](const Ts& t) { return bmm(t[0], t[1]); }, {a, b});
  }

  TEST_CASE("the checker rejects a wrong backward") {
    // x^2 with a backward that forgets the factor 2.
    auto wrong_square = [](const Ts& t) {
      Tensor out = square(t[0]).detach();
      return record(out, "wrong_square", {t[0]}, [x = t[0].detach()](const Tensor& g) {
        return std::vector<Tensor>{mul(g, x)};
      });
    };
    const GradcheckResult r = gradcheck(wrong_square, {randn64({3, 3}, 11)});
    CHECK_FALSE(r.ok);
    CHECK(r.message.find("input 0") != std::string::npos);
    // Off by a tiny amount in a single element is caught as well.
    auto almost = [](const Ts& t) {
      Tensor out = mul(t[0], 2.0).detach();
      return record(out, "almost", {t[0]}, [](const Tensor& g) {
        Tensor d = mul(g, 2.0);
        d.narrow(0, 1, 1).narrow(1, 2, 1).fill_(d.at({1, 2}) * 1.001);
        return std::vector<Tensor>{d};
      });
    };
    CHECK_FALSE(gradcheck(almost, {randn64({3, 3}, 12)}).ok);
  }
}
