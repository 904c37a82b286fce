// Weight initialisers (torch.nn.init semantics). fan_in = in_channels * receptive field.
// Modules draw from the global generator, seeded with manual_seed() like torch.manual_seed.
#pragma once
#include <cstdint>

#include "core/random.hpp"
#include "core/tensor.hpp"

namespace nl {

Generator& default_generator();
void manual_seed(uint64_t seed);

struct Fans {
  int64_t in, out;
};
Fans compute_fans(const Tensor& weight);  // (out, in, k...) layout of Linear and Conv

enum class FanMode { fan_in, fan_out };
// gain for a nonlinearity: relu sqrt(2), leaky_relu sqrt(2/(1+a^2)), linear/identity 1.
double calculate_gain(const char* nonlinearity, double param = 0);

void uniform_(Tensor& t, double low, double high, Generator& gen = default_generator());
void normal_(Tensor& t, double mean, double std, Generator& gen = default_generator());
// std = gain / sqrt(fan), gain from leaky_relu(a): PyTorch's default Conv/Linear init is
// kaiming_uniform_(w, a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void kaiming_uniform_(Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                      const char* nonlinearity = "leaky_relu",
                      Generator& gen = default_generator());
void kaiming_normal_(Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                     const char* nonlinearity = "leaky_relu", Generator& gen = default_generator());
void xavier_uniform_(Tensor& t, double gain = 1, Generator& gen = default_generator());
void xavier_normal_(Tensor& t, double gain = 1, Generator& gen = default_generator());

}  // namespace nl
