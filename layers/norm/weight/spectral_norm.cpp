#include "layers/norm/weight/spectral_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "core/init.hpp"
#include "layers/norm/registry.hpp"

namespace nl {
namespace {

void normalize(std::vector<double>& x, double eps) {
  double norm = 0;
  for (double e : x) norm += e * e;
  norm = std::max(std::sqrt(norm), eps);
  for (double& e : x) e /= norm;
}

}  // namespace

SpectralNorm::SpectralNorm(const Tensor& raw, int iterations, double eps_)
    : n_power_iterations(iterations), eps(eps_) {
  check(raw.dim() >= 2, "SpectralNorm", "expected a weight (C_out, ...), got ",
        shape_str(raw.shape()));
  check(iterations >= 1, "SpectralNorm", "n_power_iterations must be >= 1");
  const int64_t out = raw.shape()[0], fan_in = raw.numel() / out;
  Tensor u0 = Tensor::empty({out}, raw.dtype()), v0 = Tensor::empty({fan_in}, raw.dtype());
  normal_(u0, 0, 1);
  normal_(v0, 0, 1);
  std::vector<double> uu = u0.to_vector(), vv = v0.to_vector();
  normalize(uu, eps);
  normalize(vv, eps);
  u = register_buffer("u", Tensor::from_vector(uu, {out}, raw.dtype()));
  v = register_buffer("v", Tensor::from_vector(vv, {fan_in}, raw.dtype()));
}

Tensor SpectralNorm::forward(const Tensor& raw) {
  const int64_t out = raw.shape()[0], fan_in = raw.numel() / out;
  check(u.numel() == out && v.numel() == fan_in, "SpectralNorm", "weight ", shape_str(raw.shape()),
        " does not match the stored u, v");
  const std::vector<double> w = raw.detach().contiguous().to_vector();
  std::vector<double> uu = u.to_vector(), vv = v.to_vector();
  if (training_) {
    for (int it = 0; it < n_power_iterations; ++it) {
      std::fill(vv.begin(), vv.end(), 0.0);
      for (int64_t o = 0; o < out; ++o)
        for (int64_t f = 0; f < fan_in; ++f) vv[f] += w[o * fan_in + f] * uu[o];
      normalize(vv, eps);
      for (int64_t o = 0; o < out; ++o) {
        double s = 0;
        for (int64_t f = 0; f < fan_in; ++f) s += w[o * fan_in + f] * vv[f];
        uu[o] = s;
      }
      normalize(uu, eps);
    }
    u.copy_(Tensor::from_vector(uu, {out}, u.dtype()));
    v.copy_(Tensor::from_vector(vv, {fan_in}, v.dtype()));
  }
  double sigma = 0;
  for (int64_t o = 0; o < out; ++o)
    for (int64_t f = 0; f < fan_in; ++f) sigma += uu[o] * w[o * fan_in + f] * vv[f];
  check(std::abs(sigma) > 0, "SpectralNorm", "estimated sigma(W) is 0 (all-zero weight?)");
  std::vector<double> scaled(w.size());
  for (size_t i = 0; i < w.size(); ++i) scaled[i] = w[i] / sigma;
  const Tensor y = Tensor::from_vector(scaled, raw.shape(), raw.dtype());
  return record(y, "SpectralNorm", {raw}, [=](const Tensor& gy) {
    const std::vector<double> g = gy.contiguous().to_vector();
    double inner = 0;  // sum(dW_SN * W)
    for (size_t i = 0; i < g.size(); ++i) inner += g[i] * w[i];
    std::vector<double> dw(g.size());
    for (int64_t o = 0; o < out; ++o)
      for (int64_t f = 0; f < fan_in; ++f) {
        const int64_t i = o * fan_in + f;
        dw[i] = g[i] / sigma - inner / (sigma * sigma) * uu[o] * vv[f];
      }
    return std::vector<Tensor>{Tensor::from_vector(dw, raw.shape(), raw.dtype())};
  });
}

NORMLAB_NORM(sn) {
  return {.name = "sn",
          .family = NormFamily::weight,
          .summary =
              "Spectral Normalization: W / sigma_max(W), power iteration in training "
              "(weight side)",
          .options = {NormOption::count("n_power_iterations", 1,
                                        "power iterations per training forward")},
          .build = [](const NormArgs& a, int64_t) {
            const int iterations = int(a.count("n_power_iterations"));
            return weight_side_slot([iterations](const Tensor& raw) -> ModulePtr {
              return std::make_shared<SpectralNorm>(raw, iterations);
            });
          }};
}

}  // namespace nl
