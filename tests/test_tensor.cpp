// Tensor core: views share storage, broadcasting, reductions, numerical soundness, errors.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "core/kernels.hpp"
#include "core/parallel.hpp"
#include "helpers.hpp"

using namespace nl;

TEST_SUITE("tensor") {
  TEST_CASE("factories and element access") {
    Tensor a = Tensor::arange(0, 6).view({2, 3});
    CHECK(a.shape() == Shape{2, 3});
    CHECK(a.at({1, 2}) == 5);
    CHECK(Tensor::zeros({3}).to_vector() == std::vector<double>{0, 0, 0});
    CHECK(Tensor::full({2}, 2.5, DType::f64).to_vector() == std::vector<double>{2.5, 2.5});
    CHECK(Tensor::scalar(3).item() == 3);
  }

  TEST_CASE("views share storage and cost no copy") {
    Tensor a = Tensor::arange(0, 24).view({2, 3, 4});
    Tensor t = a.transpose(0, 2);
    CHECK(t.shape() == Shape{4, 3, 2});
    CHECK(t.shares_storage_with(a));
    CHECK_FALSE(t.is_contiguous());
    CHECK(t.at({3, 1, 1}) == a.at({1, 1, 3}));
    Tensor n = a.narrow(2, 1, 2);
    CHECK(n.shares_storage_with(a));
    CHECK(n.at({1, 2, 0}) == a.at({1, 2, 1}));
    Tensor e = Tensor::arange(0, 3).view({3, 1}).expand({3, 4});
    CHECK(e.strides()[1] == 0);
    CHECK(e.at({2, 3}) == 2);
    CHECK(a.unsqueeze(0).shape() == Shape{1, 2, 3, 4});
    CHECK(a.unsqueeze(0).squeeze(0).shape() == Shape{2, 3, 4});
    CHECK(a.contiguous().shares_storage_with(a));  // already contiguous: no copy
    CHECK_FALSE(t.contiguous().shares_storage_with(a));
    CHECK(t.reshape({24}).at({5}) == t.contiguous().view({24}).at({5}));
    CHECK(a.view({6, -1}).shape() == Shape{6, 4});
    // A write through a view is visible in the base.
    Tensor v = a.narrow(0, 1, 1);
    v.fill_(7);
    CHECK(a.at({1, 0, 0}) == 7);
    CHECK(a.at({0, 0, 0}) == 0);
  }

  TEST_CASE("broadcasting binary ops") {
    Tensor a = Tensor::arange(0, 6).view({2, 3});
    Tensor b = Tensor::from_vector({10, 20, 30}, {3});
    CHECK((a + b).to_vector() == std::vector<double>{10, 21, 32, 13, 24, 35});
    Tensor c = Tensor::from_vector({1, 2}, {2, 1});
    CHECK((a * c).to_vector() == std::vector<double>{0, 1, 2, 6, 8, 10});
    // Non-contiguous operands take the strided path.
    Tensor t = a.transpose(0, 1);
    CHECK((t - t).to_vector() == std::vector<double>(6, 0));
    CHECK((a / 2.0).at({1, 2}) == 2.5);
  }

  TEST_CASE("reductions over axis sets with keepdim") {
    Tensor a = Tensor::arange(0, 24, 1, DType::f64).view({2, 3, 4});
    CHECK(sum(a).item() == 276);
    Tensor s = sum(a, {0, 2}, true);
    CHECK(s.shape() == Shape{1, 3, 1});
    CHECK(s.to_vector() == std::vector<double>{60, 92, 124});
    CHECK(sum(a, {-1}).shape() == Shape{2, 3});
    CHECK(mean(a, {1}).at({1, 0}) == doctest::Approx(16));
    CHECK(max(a, {0, 1}).to_vector() == std::vector<double>{20, 21, 22, 23});
    CHECK(argmax(Tensor::from_vector({1, 5, 5, 2}, {4}), 0).item() == 1);  // first maximum
    Tensor v = Tensor::from_vector({1, 2, 3, 4}, {4}, DType::f64);
    CHECK(var(v, {}, true).item() == doctest::Approx(5.0 / 3));
    CHECK(var(v, {}, false).item() == doctest::Approx(1.25));
  }

  TEST_CASE("variance of offset data stays accurate (x = 100 + 0.01 N(0;1))") {
    Generator g(7);
    Tensor x = add(mul(Tensor::randn({1 << 20}, g), 0.01), 100.0);  // float32
    Tensor x64 = x.to(DType::f64);
    const std::vector<double> xs = x64.to_vector();
    double m = 0;
    for (double v : xs) m += v;
    m /= xs.size();
    double ref = 0;
    for (double v : xs) ref += (v - m) * (v - m);
    ref /= xs.size();
    CHECK(var(x, {}, false).item() == doctest::Approx(ref).epsilon(1e-4));
    CHECK(mean(x).item() == doctest::Approx(m).epsilon(1e-7));
    CHECK(sum(x).item() == doctest::Approx(m * xs.size()).epsilon(1e-6));
  }

  TEST_CASE("matmul; transposed views and batches") {
    Tensor a = Tensor::arange(0, 6, 1, DType::f64).view({2, 3});
    Tensor b = Tensor::arange(0, 12, 1, DType::f64).view({3, 4});
    Tensor c = matmul(a, b);
    CHECK(c.shape() == Shape{2, 4});
    CHECK(c.at({1, 3}) == 3 * 3 + 4 * 7 + 5 * 11);
    Tensor ct = matmul(b.transpose(0, 1), a.transpose(0, 1));  // (4,3)@(3,2) via BLAS flags
    CHECK(ct.at({3, 1}) == c.at({1, 3}));
    Tensor ba = Tensor::arange(0, 12, 1, DType::f64).view({2, 2, 3});
    Tensor bb = Tensor::arange(0, 24, 1, DType::f64).view({2, 3, 4});
    Tensor bc = bmm(ba, bb);
    CHECK(bc.shape() == Shape{2, 2, 4});
    CHECK(bc.at({1, 0, 0}) == 6 * 12 + 7 * 16 + 8 * 20);
  }

  TEST_CASE("random numbers depend on the seed only; not on the thread count") {
    Generator g1(42), g2(42), g3(43);
    set_num_threads(1);
    Tensor a = Tensor::randn({100000}, g1);
    set_num_threads(2);
    Tensor b = Tensor::randn({100000}, g2);
    set_num_threads(0);
    CHECK(test::max_abs_diff(a, b) == 0);
    CHECK(test::max_abs_diff(a, Tensor::randn({100000}, g3)) > 0);
    CHECK(mean(a).item() == doctest::Approx(0).epsilon(0.01));
    CHECK(var(a).item() == doctest::Approx(1).epsilon(0.02));
    Tensor u = Tensor::rand({100000}, g1);
    CHECK(max(u).item() < 1);
    CHECK(mean(u).item() == doctest::Approx(0.5).epsilon(0.01));
  }

  TEST_CASE("initializers follow torch.nn.init") {
    Tensor w = Tensor::empty({64, 32, 3, 3});
    kaiming_normal_(w, 0, FanMode::fan_in, "relu");
    CHECK(std::sqrt(var(w).item()) == doctest::Approx(std::sqrt(2.0 / 288)).epsilon(0.05));
    kaiming_uniform_(w, std::sqrt(5.0));  // PyTorch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    CHECK(max(w).item() <= 1 / std::sqrt(288.0));
    CHECK(max(w).item() > 0.9 / std::sqrt(288.0));
    xavier_uniform_(w);
    CHECK(max(w).item() <= std::sqrt(6.0 / (288 + 576)));
    xavier_normal_(w, 2.0);  // std = gain sqrt(2 / (fan_in + fan_out))
    CHECK(std::sqrt(var(w).item()) == doctest::Approx(2.0 * std::sqrt(2.0 / 864)).epsilon(0.05));
  }

  TEST_CASE("errors name the op and the shapes") {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
    CHECK_THROWS_WITH_AS(a + b, doctest::Contains("add: shapes [2, 3] and [4]"), Error);
    CHECK_THROWS_WITH_AS(sum(a, {2}), doctest::Contains("axis 2 is out of range"), Error);
    CHECK_THROWS_WITH_AS(a.at({0, 3}), doctest::Contains("index 3 is out of range"), Error);
    CHECK_THROWS_WITH_AS(a + Tensor::zeros({2, 3}, DType::f64), doctest::Contains("dtype mismatch"),
                         Error);
    CHECK_THROWS_WITH_AS(matmul(a, a), doctest::Contains("not aligned"), Error);
    CHECK_THROWS_WITH_AS(a.transpose(0, 1).view({6}), doctest::Contains("not contiguous"), Error);
    CHECK_THROWS_WITH_AS(a.view({4, 2}), doctest::Contains("invalid for 6 elements"), Error);
    CHECK_THROWS_AS(a.expand({3, 3}), Error);
    CHECK_THROWS_AS(a.narrow(1, 2, 2), Error);
    CHECK_THROWS_AS(a.data<double>(), Error);
  }
}
