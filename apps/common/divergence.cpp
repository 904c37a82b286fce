#include "apps/common/divergence.hpp"

#include <cmath>

#include "layers/loss.hpp"

namespace nl::apps {

bool all_finite(const Tensor& t) {
  bool ok = true;
  dispatch(t.dtype(), [&]<typename T>() {
    const Tensor c = t.detach().contiguous();
    const T* p = c.data<T>();
    for (int64_t i = 0; i < c.numel() && ok; ++i) ok = std::isfinite(p[i]);
  });
  return ok;
}

std::string diagnose_divergence(Module& model, const Tensor& x,
                                const std::vector<int64_t>& labels) {
  std::string bad_output, bad_grad;
  for (auto& [name, m] : model.named_modules()) {
    const std::string nm = name + " (" + m->type_name() + ")";
    m->register_forward_hook([&, nm](Module&, const Tensor&, const Tensor& out) {
      if (bad_output.empty() && !all_finite(out)) bad_output = nm;
      if (out.requires_grad())
        const_cast<Tensor&>(out).register_hook([&, nm](const Tensor& g) {
          if (bad_grad.empty() && !all_finite(g)) bad_grad = nm;
          return Tensor();
        });
    });
  }
  model.zero_grad();
  Tensor loss = cross_entropy(model(x), labels);
  if (bad_output.empty()) loss.backward();
  for (auto& [_, m] : model.named_modules()) m->clear_forward_hooks();
  if (!bad_output.empty()) return "the output of layer " + bad_output + " became non-finite";
  if (!bad_grad.empty())
    return "the gradient at the output of layer " + bad_grad + " became non-finite";
  return "no single layer could be named (the values overflowed in the loss or the update)";
}

void check_finite_step(double value, StepValue what, int64_t epoch, int64_t step, Module& model,
                       const Tensor& x, const std::vector<int64_t>& labels) {
  if (std::isfinite(value)) return;
  const std::string quantity =
      what == StepValue::loss ? "loss is " + std::to_string(value) : "non-finite gradient";
  throw DivergenceError("training diverged at epoch " + std::to_string(epoch) + ", step " +
                        std::to_string(step) + ": " + quantity + "; " +
                        diagnose_divergence(model, x, labels) +
                        ". The last good checkpoint is unchanged.");
}

}  // namespace nl::apps
