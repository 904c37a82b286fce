// The training job behind apps/train (and the tests that run it end to end): the standard
// augmentation, SGD/AdamW with one-cycle/cosine/step schedules, per-epoch metrics, atomic
// safetensors checkpoints, bit-identical resume, and divergence diagnosis. Its settings are
// train_config.hpp, its data cifar_data.hpp.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/common/checkpoint.hpp"
#include "apps/common/cifar_data.hpp"
#include "apps/common/divergence.hpp"
#include "apps/common/train_config.hpp"
#include "core/dist/communicator.hpp"
#include "data/image_set.hpp"
#include "data/transforms.hpp"
#include "layers/models/resnet.hpp"
#include "layers/module.hpp"
#include "layers/norm/precise_stats.hpp"
#include "layers/optim/optimizer.hpp"

namespace nl::apps {

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
