// Precise running statistics ("precise BN": Wu & Johnson 2021, Rethinking "Batch" in BatchNorm;
// PyTorch's torch.optim.swa_utils.update_bn): recomputes every normalizer's running statistics
// as the plain average over a number of batches, with the weights as they are now.
//
// Why: the running average a layer keeps while training (momentum 0.1: mostly the last 10-20
// steps) blends statistics of past weights. When the weights move quickly, or when the layer
// normalizes training batches with other statistics than the ones it tracks (Cross-Iteration
// BN pools past batches), that blend can miss the statistics of the final weights, and eval then
// normalizes with wrong numbers. docs/results/leaderboard.md shows a case.
//
// The model runs forward in training mode without gradients. Every running statistic blended
// through update_running (layers/norm/running_stats.hpp; all of normlab's normalizers) becomes
// the average over the batches; every other buffer (batch counters, Cross-Iteration BN's window,
// Online Norm's streaming state) is put back as it was, and so is the train/eval mode, so
// training may go on afterwards.
#pragma once
#include <functional>
#include <optional>

#include "layers/module.hpp"

namespace nl {

struct RecomputedStats {
  int64_t batches = 0;           // forward passes run
  int64_t buffers_averaged = 0;  // running statistics replaced (0: the model keeps none)
};

// Runs `model` on each batch `next_batch` gives until it gives nullopt.
RecomputedStats recompute_running_stats(Module& model,
                                        const std::function<std::optional<Tensor>()>& next_batch);

}  // namespace nl
