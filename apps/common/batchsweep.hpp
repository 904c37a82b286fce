// probe batchsweep (Wu & He, Group Normalization, Fig. 1; "BatchNorm degrades at small
// batches"): the same model, data budget (images seen) and schedule trained at several batch
// sizes, the learning rate scaled linearly with the batch (lr = lr_at_128 x B / 128), for
// several normalizers; the final test accuracy and training loss per (normalizer, batch).
#pragma once
#include <string>
#include <vector>

#include "apps/common/probe.hpp"
#include "apps/common/training.hpp"

namespace nl::apps {

struct BatchSweepConfig {
  TrainConfig base;  // recipe and budget (data, model, epochs, train_limit, test_limit, lr)
  std::vector<std::string> norms;  // empty: default_batchsweep_norms()
  std::vector<int> batch_sizes = {2, 4, 8, 16, 32, 64, 128};
  double lr_at_128 = 0.1;  // the learning rate at batch 128; scaled linearly
  std::string out;         // each run writes <out>/batchsweep/<norm>/b<B>/metrics.jsonl
};

std::vector<std::string> default_batchsweep_norms();

// Rows per (norm, batch B), index = B: "test_acc" and "train_loss" of the last epoch; a run that
// diverged gets a "diverged" row (value 1) instead; a combination the normalizer refuses (a
// ghost batch larger than the batch) a "refused" row. Runs already finished in `out` are read,
// not trained again (the sweep resumes after an interruption).
std::vector<ProbeRow> run_batchsweep(const BatchSweepConfig& config);

}  // namespace nl::apps
