// The settings of a training run (apps/train's flags), as config.json and every checkpoint
// record them, and which of them define the run (a resume must match those).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "layers/models/resnet.hpp"

namespace nl::apps {

struct TrainConfig {
  std::string data;  // image folder (train/, test/) or CIFAR-10 binary folder
  std::string model = "resnet20";
  // width, norm, residual remedy, kaiming_normal: what the model is built from (its
  // num_classes comes from the data; arch_for fills it in).
  ModelOptions arch;
  int epochs = 30;
  int batch_size = 128;
  double lr = 0.1;
  double momentum = 0.9;  // SGD momentum (one-cycle cycles it between 0.85 and 0.95)
  bool nesterov = true;
  double wd = 5e-4;
  bool wd_skip_norm_bias = false;  // no weight decay on 1-D parameters (norm affine, biases)
  double agc = 0;  // adaptive gradient clipping factor, classifier excluded; 0 = off
  std::string schedule = "onecycle";
  std::string optimizer = "sgd";
  std::string crop_fill = "zero";  // the crop padding: zero (black), mean (dataset mean), reflect
  double pct_start = 0.15;
  uint64_t seed = 0;
  int threads = 0;
  int64_t train_limit = 0;  // a fixed random subset of N training images; 0 = all
  int64_t test_limit = 0;
  // Also score every epoch with the running statistics recomputed over this many training images
  // (metrics: test_acc_recalibrated); training itself is unchanged. 0 = off.
  int64_t recalibrate = 0;
  std::string out;  // metrics, config and checkpoints go here ("" = nowhere)
  std::string resume;
  int stop_after_epoch = 0;  // stop early, as if interrupted (the schedule still spans `epochs`)
  bool progress = true;      // progress bar when stdout is a terminal

  // The model's options for a dataset of `num_classes` classes.
  ModelOptions arch_for(int64_t num_classes) const {
    ModelOptions o = arch;
    o.num_classes = int(num_classes);
    return o;
  }

  nlohmann::json to_json() const;
  // The settings of a saved to_json() record (a checkpoint's config); fields it lacks keep
  // their defaults. Throws naming a field of the wrong type.
  static TrainConfig from_json(const nlohmann::json& j);
};

// The settings that define a run, as to_json() names them: resuming requires every one of them
// to equal the checkpoint's (threads, data path and output folder may change).
const std::vector<std::string>& run_defining_settings();

}  // namespace nl::apps
