// The quantities the normalization papers measure on activations (Lubana et al. 2021, "Beyond
// BatchNorm", probes in layer_defs.py; docs/experiments/). Each takes one layer's activation
// tensor a of shape (N, C, ...) for a minibatch.
#pragma once
#include "core/tensor.hpp"

namespace nl::probe {

// mean over channels of the unbiased variance over (N, H, W): the depth profile of
// "activation growth".
double activation_variance(const Tensor& a);

struct Similarity {
  double mean_cosine = 0;  // mean pairwise cosine similarity between different samples
  double stable_rank = 0;  // tr(G) / lambda_max(G) of the Gram matrix of normalized samples
};
// Flattens each sample to a row, normalizes the rows, G = M M^T (N x N):
//   mean_cosine = mean_n (sum_m G_nm - 1) / (N - 1),   stable_rank = N / lambda_max(G).
// mean_cosine -> 1 and stable_rank -> 1 mean every sample looks alike (rank collapse). A sample
// whose activations are all zero counts as orthogonal to the others.
Similarity sample_similarity(const Tensor& a);

// The power decomposition of Proxy Normalization (Labatie et al. 2021, Fig. 2) of one layer's
// pre-activations y (N, C, positions), per channel c with mu_c(x) = mean over positions,
// sigma_c(x)^2 = variance over positions (biased), mu_c = mean over samples of mu_c(x):
//   mean(y^2) = mean_c mu_c^2  +  mean_c Var_x mu_c(x)  +  mean_c mean_x sigma_c(x)^2
//               channel-wise     instance-wise            instance-varying
//               constant         constant
// (all moments population moments, so the three parts add up to the total exactly). The parts
// are returned as fractions of the total.
struct PowerParts {
  double channel_constant = 0, instance_constant = 0, instance_varying = 0;
  double total = 0;  // mean(y^2)
};
PowerParts power_decomposition(const Tensor& y);

// ||t||_F.
double frobenius_norm(const Tensor& t);

}  // namespace nl::probe
