// probe landscape (Santurkar, Tsipras, Ilyas & Madry 2018, "How Does Batch Normalization Help
// Optimization?", Fig. 4): while a network trains, look along the current gradient direction.
// Every `every` steps, with g = dL/dw on the step's batch and for each step size eta:
//   loss variation        max_eta L(w - eta g) - min_eta L(w - eta g)
//   gradient predictiveness  ||grad L(w) - grad L(w - eta g)||   (min and max over eta)
//   effective beta-smoothness  max_eta ||grad L(w) - grad L(w - eta g)|| / ||eta g||
// on the same batch; the weights and every buffer (BatchNorm's running statistics) are restored
// afterwards, so the probe does not change the training run. BatchNorm should make all three
// smaller (a smoother, more predictable landscape).
#pragma once
#include <string>
#include <vector>

#include "apps/common/probe.hpp"
#include "apps/common/probe_training.hpp"

namespace nl::apps {

struct LandscapeConfig {
  ProbedRun run;
  std::vector<std::string> norms;  // empty: bn and none
  std::vector<double> etas = {0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4};
};

// Rows per (norm, probed step): loss, loss_variation, grad_pred_min, grad_pred_max,
// beta_smoothness (index = the training step); a run whose loss turns non-finite gets a
// "diverged" row and stops. Convolutions are Kaiming-normal, SGD with a constant lr.
std::vector<ProbeRow> run_landscape(const LandscapeConfig& config);

}  // namespace nl::apps
