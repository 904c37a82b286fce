// Layers other than conv and norm: Linear, pooling, activations, loss.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/ops.hpp"
#include "helpers.hpp"
#include "layers/activation.hpp"
#include "layers/container.hpp"
#include "layers/linear.hpp"
#include "layers/loss.hpp"
#include "layers/pooling.hpp"

using namespace nl;
using test::check_grad;
using test::randn64;
using Ts = std::vector<Tensor>;

TEST_SUITE("layers") {
  TEST_CASE("Linear: gradcheck of input; weight and bias; shape errors") {
    Linear fc(4, 3);
    fc.to(DType::f64);
    Tensor x = randn64({5, 4}, 1);
    check_grad([&](const Ts& t) { return fc(t[0]); }, {x, fc.weight, fc.bias});
    CHECK_THROWS_WITH_AS(fc(Tensor::zeros({5, 3}, DType::f64)),
                         doctest::Contains("Linear: expected input (N, 4)"), Error);
  }

  TEST_CASE("pooling gradchecks") {
    Tensor x = randn64({2, 3, 7, 6}, 2);
    check_grad([](const Ts& t) { return max_pool2d(t[0], 3, 2, 1); }, {x});
    check_grad([](const Ts& t) { return max_pool2d(t[0], 2, 2); }, {x});
    check_grad([](const Ts& t) { return avg_pool2d(t[0], 3, 2, 1, true); }, {x});
    check_grad([](const Ts& t) { return avg_pool2d(t[0], 3, 2, 1, false); }, {x});
    check_grad([](const Ts& t) { return adaptive_avg_pool2d(t[0], 3, 4); }, {x});
    check_grad([](const Ts& t) { return adaptive_avg_pool2d(t[0], 1, 1); }, {x});
  }

  TEST_CASE("max pooling with ties sends the gradient to the first maximum") {
    Tensor x = Tensor::ones({1, 1, 2, 2}, DType::f64).requires_grad_();
    Tensor y = max_pool2d(x, 2, 2);
    sum(y).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{1, 0, 0, 0});
  }

  TEST_CASE("avg pooling padding conventions") {
    Tensor x = Tensor::ones({1, 1, 3, 3});
    CHECK(avg_pool2d(x, 3, 1, 1, true).at({0, 0, 0, 0}) == doctest::Approx(4.0 / 9));
    CHECK(avg_pool2d(x, 3, 1, 1, false).at({0, 0, 0, 0}) == doctest::Approx(1.0));
    CHECK_THROWS_AS(max_pool2d(Tensor::zeros({2, 3}), 2, 2), Error);
  }

  TEST_CASE("cross entropy: gradcheck; label smoothing; stability") {
    Tensor z = randn64({4, 5}, 3);
    std::vector<int64_t> y{0, 4, 2, 2};
    check_grad([&](const Ts& t) { return cross_entropy(t[0], y); }, {z});
    check_grad([&](const Ts& t) { return cross_entropy(t[0], y, 0.1); }, {z});
    // Uniform logits: loss = log K.
    CHECK(cross_entropy(Tensor::zeros({2, 10}), {1, 2}).item() == doctest::Approx(std::log(10.0)));
    // Huge logits stay finite.
    Tensor big = Tensor::from_vector({1e4, 0, -1e4, 1e4}, {2, 2});
    const double l = cross_entropy(big, {1, 0}).item();  // row losses 1e4 and 2e4
    CHECK(std::isfinite(l));
    CHECK(l == doctest::Approx(1.5e4));
    CHECK_THROWS_WITH_AS(cross_entropy(z, {0, 9, 1, 1}), doctest::Contains("label 9 at row 1"),
                         Error);
    CHECK(accuracy(Tensor::from_vector({1, 0, 0, 1}, {2, 2}), {0, 0}) == 0.5);
  }

  TEST_CASE("activation modules match their ops") {
    Tensor x = randn64({3, 3}, 4, false);
    CHECK(test::max_abs_diff(ReLU()(x), relu(x)) == 0);
    CHECK(LeakyReLU(0.2)(x).at({0, 0}) ==
          doctest::Approx(x.at({0, 0}) > 0 ? x.at({0, 0}) : 0.2 * x.at({0, 0})));
    CHECK(test::max_abs_diff(Flatten()(x.reshape({3, 1, 3})), x) == 0);
    Dropout d(0.5, 1);
    Tensor big = Tensor::ones({10000});
    const double m = mean(d(big)).item();
    CHECK(m == doctest::Approx(1.0).epsilon(0.05));  // inverted scaling keeps the mean
  }
}
