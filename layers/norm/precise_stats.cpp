#include "layers/norm/precise_stats.hpp"

#include "autograd/node.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {

RecomputedStats recompute_running_stats(Module& model,
                                        const std::function<std::optional<Tensor>()>& next_batch) {
  NamedTensors before = model.named_buffers();
  for (auto& [name, buffer] : before) buffer = buffer.clone();
  const bool was_training = model.is_training();
  // Puts every buffer back except, when `keep` is given, those it averaged; counts those kept.
  auto restore = [&](const CumulativeStatsScope* keep) {
    int64_t kept = 0;
    const NamedTensors now = model.named_buffers();
    for (size_t i = 0; i < now.size(); ++i) {
      Tensor buffer = now[i].second;
      if (keep && keep->averaged(buffer))
        ++kept;
      else
        buffer.copy_(before[i].second);
    }
    model.train(was_training);
    return kept;
  };

  RecomputedStats done;
  NoGradGuard no_grad;
  CumulativeStatsScope cumulative;
  model.train();
  try {
    while (std::optional<Tensor> batch = next_batch()) {
      model(*batch);
      ++done.batches;
    }
  } catch (...) {
    restore(nullptr);  // a failed pass leaves no half-averaged statistics behind
    throw;
  }
  done.buffers_averaged = restore(&cumulative);
  return done;
}

}  // namespace nl
