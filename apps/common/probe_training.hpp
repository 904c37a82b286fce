// Helpers for the probes that look inside a training run (landscape, ics): the loss and the
// flat gradient on one batch, and an exact snapshot of a model to return to after a probe.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "data/loader.hpp"
#include "layers/module.hpp"
#include "layers/optim/optimizer.hpp"

namespace nl::apps {

// Mean cross-entropy on `batch` and dL/dw of every parameter, flattened in parameter order
// (zeros for a parameter without gradient). Leaves the gradients in the parameters.
std::pair<double, std::vector<double>> loss_and_grad(Module& model, const data::Batch& batch);

// A deep copy of every parameter and buffer (state_dict), for load_state_dict afterwards.
std::map<std::string, Tensor> snapshot(const Module& model);

// A training run with probes: the model (Kaiming-normal convolutions, as torchvision's VGG; with
// PyTorch's default init an unnormalized network's signal fades), the standard augmentation,
// SGD with a constant learning rate.
struct ProbedRun {
  std::string data, model = "vgg11";
  int width = 16;
  int64_t steps = 300, every = 10, batch_size = 128;
  double lr = 0.1, momentum = 0.9;
  uint64_t seed = 0;
};

// probe(model, optimizer, batch, step) runs before every `every`-th training step, on that
// step's batch; it must leave the model and the optimizer as it found them. Returns the step
// whose loss was not finite (training stops there), or -1.
using StepProbe = std::function<void(Module&, Optimizer&, const data::Batch&, int64_t)>;
int64_t train_with_probes(const ProbedRun& run, const std::string& norm, const StepProbe& probe);

// The flat gradient split back into per-parameter pieces: [offset, offset + numel) of each.
std::vector<std::pair<int64_t, int64_t>> parameter_ranges(const Module& model);

}  // namespace nl::apps
