#include "core/init.hpp"

#include <cmath>
#include <cstring>

namespace nl {

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}
void manual_seed(uint64_t seed) {
  default_generator().set_state(seed, 0);
}

Fans compute_fans(const Tensor& w) {
  check(w.dim() >= 2, "init", "fan in/out need at least 2 dimensions, got ", shape_str(w.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.shape()[d];
  return {w.shape()[1] * receptive, w.shape()[0] * receptive};
}

double calculate_gain(const char* nl, double param) {
  if (!std::strcmp(nl, "relu")) return std::sqrt(2.0);
  if (!std::strcmp(nl, "leaky_relu")) return std::sqrt(2.0 / (1 + param * param));
  if (!std::strcmp(nl, "tanh")) return 5.0 / 3;
  if (!std::strcmp(nl, "linear") || !std::strcmp(nl, "identity") || !std::strcmp(nl, "sigmoid") ||
      !std::strcmp(nl, "conv2d"))
    return 1.0;
  throw Error(std::string("calculate_gain: unknown nonlinearity '") + nl + "'");
}

namespace {
void assign(Tensor& t, const Tensor& values) {
  t.copy_(values);
}
}  // namespace

void uniform_(Tensor& t, double low, double high, Generator& gen) {
  Tensor u = Tensor::rand(t.shape(), gen, DType::f64);
  double* p = u.data<double>();
  for (int64_t i = 0; i < u.numel(); ++i) p[i] = low + (high - low) * p[i];
  assign(t, u);
}

void normal_(Tensor& t, double mean, double std, Generator& gen) {
  Tensor z = Tensor::randn(t.shape(), gen, DType::f64);
  double* p = z.data<double>();
  for (int64_t i = 0; i < z.numel(); ++i) p[i] = mean + std * p[i];
  assign(t, z);
}

void kaiming_uniform_(Tensor& t, double a, FanMode mode, const char* nonlinearity, Generator& gen) {
  const Fans f = compute_fans(t);
  const double std =
      calculate_gain(nonlinearity, a) / std::sqrt(double(mode == FanMode::fan_in ? f.in : f.out));
  const double bound = std::sqrt(3.0) * std;
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, double a, FanMode mode, const char* nonlinearity, Generator& gen) {
  const Fans f = compute_fans(t);
  normal_(
      t, 0,
      calculate_gain(nonlinearity, a) / std::sqrt(double(mode == FanMode::fan_in ? f.in : f.out)),
      gen);
}

void xavier_uniform_(Tensor& t, double gain, Generator& gen) {
  const Fans f = compute_fans(t);
  const double bound = gain * std::sqrt(6.0 / double(f.in + f.out));
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(Tensor& t, double gain, Generator& gen) {
  const Fans f = compute_fans(t);
  normal_(t, 0, gain * std::sqrt(2.0 / double(f.in + f.out)), gen);
}

}  // namespace nl
