// probe groupsweep (Beyond BatchNorm, the speed/stability trade-off of the group size): short
// training runs, the same recipe and budget for every normalizer of the similarity/gradnorm
// sweep, reporting test accuracy and training loss after each epoch and any divergence.
#pragma once
#include <string>
#include <vector>

#include "apps/common/probe.hpp"
#include "apps/common/training.hpp"

namespace nl::apps {

struct GroupSweepConfig {
  TrainConfig base;                // recipe and budget (data, model, epochs, train_limit, ...)
  std::vector<std::string> norms;  // empty: default_probe_norms("similarity")
  std::string out;                 // each run writes <out>/groupsweep/<norm>/metrics.jsonl
};

// One row per (norm, epoch, metric): test_acc, train_loss; a diverged run gets one row
// "diverged" at the epoch where it stopped (value 1) and no further epochs.
std::vector<ProbeRow> run_groupsweep(const GroupSweepConfig& config);

}  // namespace nl::apps
