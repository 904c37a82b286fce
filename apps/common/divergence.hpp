// Divergence: a non-finite loss or gradient stops training with the step and the first layer
// at fault named, instead of training on NaNs.
#pragma once
#include <string>
#include <vector>

#include "core/error.hpp"
#include "layers/module.hpp"

namespace nl::apps {

struct DivergenceError : Error {
  using Error::Error;
};

bool all_finite(const Tensor& t);

// Re-runs one batch with hooks on every module to name where non-finite values first appear:
// the first module (in forward order) whose output is non-finite, else the first module (in
// backward order) whose output gradient is.
std::string diagnose_divergence(Module& model, const Tensor& x, const std::vector<int64_t>& labels);

// Throws DivergenceError for step `step` (from 1) of epoch `epoch` (from 1) when `value` (the
// loss, or else the squared gradient norm) is not finite.
enum class StepValue { loss, gradient };
void check_finite_step(double value, StepValue what, int64_t epoch, int64_t step, Module& model,
                       const Tensor& x, const std::vector<int64_t>& labels);

}  // namespace nl::apps
