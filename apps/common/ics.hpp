// probe ics (Santurkar et al. 2018, section 2.2): internal covariate shift measured the way the
// optimizer feels it. At a training step with batch B and weights W, for every layer i (each
// Conv2d and Linear weight, in forward order):
//   G_i  = dL/dW_i at W                                      (this step's gradient)
//   G'_i = dL/dW_i after only the layers before i took this step's optimizer update
// and report ||G_i - G'_i|| and cos(G_i, G'_i). If the layers before i change the distribution
// of layer i's input a lot, G'_i differs from G_i. The paper finds BatchNorm does not reduce it
// (and with "noisy BatchNorm", noisybn, it is much larger while training stays fast).
#pragma once
#include <string>
#include <vector>

#include "apps/common/probe.hpp"
#include "apps/common/probe_training.hpp"

namespace nl::apps {

struct IcsConfig {
  ProbedRun run;
  std::vector<std::string> norms;  // empty: none, bn, noisybn
};

// Rows per (norm, probed step, layer): ics_l2, ics_cos (index = the training step), and the
// training loss per probed step.
std::vector<ProbeRow> run_ics(const IcsConfig& config);

}  // namespace nl::apps
