// Shared test helpers: float64 random tensors and a gradcheck assertion with a readable report.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "autograd/gradcheck.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"
#include "layers/module.hpp"

namespace nl::test {

// The parameter of `m` with dotted name `name` (fails the test when there is none).
inline Tensor parameter(const Module& m, const std::string& name) {
  for (auto& [n, p] : m.named_parameters())
    if (n == name) return p;
  FAIL("no parameter ", name);
  return {};
}

inline Tensor randn64(const Shape& shape, uint64_t seed, bool grad = true) {
  Generator g(seed);
  Tensor t = Tensor::randn(shape, g, DType::f64);
  if (grad) t.requires_grad_(true);
  return t;
}

inline void check_grad(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                       const std::vector<Tensor>& inputs, GradcheckOptions opt = {}) {
  const GradcheckResult r = gradcheck(f, inputs, opt);
  INFO(r.message);
  CHECK(r.ok);
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  REQUIRE(va.size() == vb.size());
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

inline double max_abs(const Tensor& a) {
  double m = 0;
  for (double v : a.to_vector()) m = std::max(m, std::abs(v));
  return m;
}

}  // namespace nl::test
