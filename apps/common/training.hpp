// The training job behind apps/train (and the tests that run it end to end): CIFAR data,
// the standard augmentation, SGD/AdamW with one-cycle/cosine/step schedules, per-epoch metrics,
// atomic safetensors checkpoints, bit-identical resume, and divergence diagnosis.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/common/checkpoint.hpp"
#include "apps/common/divergence.hpp"
#include "core/dist/communicator.hpp"
#include "data/image_set.hpp"
#include "data/transforms.hpp"
#include "layers/models/resnet.hpp"
#include "layers/module.hpp"
#include "layers/norm/precise_stats.hpp"
#include "layers/optim/optimizer.hpp"

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

struct Datasets {
  std::unique_ptr<data::ImageSet> train, test;
};
// Detects the layout of `dir` and loads it; throws with a message saying how to get CIFAR-10.
// The two splits must have the same class names and image size (else an error listing the
// difference). With test_only, train/ is neither needed nor read (d.train stays empty).
Datasets load_cifar(const std::string& dir, bool test_only = false);

// Images `indices` of `set` as a float (N, C, H, W) batch: pixel/255, then (v - mean) / std per
// channel.
Tensor normalized_images(const data::ImageSet& set, const std::vector<int64_t>& indices,
                         const std::vector<float>& mean, const std::vector<float>& std);

// The standard recipe's augmentation as the training loader applies it: random crop 32 from the
// image padded by 4 (`crop_fill`: zero, mean or reflect), horizontal flip, then normalization.
data::Compose training_transforms(const std::string& crop_fill, const std::vector<float>& mean,
                                  const std::vector<float>& std);

// Recomputes the running statistics of `model` (layers/norm/precise_stats.hpp) over the first
// `images` training images of epoch `epoch`'s shuffled order, in whole batches of the run's batch
// size, with the training augmentation (`plain`: none); under data parallelism each rank
// takes its shard of each batch. Throws unless one batch <= images <= the training set.
RecomputedStats recalibrate_running_stats(Module& model, const data::ImageSet& train,
                                          const TrainConfig& config, const std::vector<float>& mean,
                                          const std::vector<float>& std, int64_t images,
                                          bool plain = false, int64_t epoch = 0);

struct EvalResult {
  double loss = 0, accuracy = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  Tensor logits;                                // (N, classes), only when asked for
};
// With a communicator of several ranks, each evaluates its shard of `set` and the results are
// pooled (every rank returns the whole set's loss, accuracy and confusion).
EvalResult evaluate(Module& model, const data::ImageSet& set, const std::vector<float>& mean,
                    const std::vector<float>& std, int batch_size = 500, bool keep_logits = false,
                    dist::Communicator* comm = nullptr);

// The optimizer's parameter groups for `config`: weight decay off for what the layers exclude
// (and for 1-D parameters with wd_skip_norm_bias), AGC (agc > 0) on all but the classifier.
std::vector<ParamGroup> param_groups(const Module& model, const TrainConfig& config);

// Runs the whole job; returns the final test accuracy. Throws nl::Error on bad settings and
// nl::DivergenceError when training produced a non-finite loss or gradient.
double run_training(const TrainConfig& config);

}  // namespace nl::apps
