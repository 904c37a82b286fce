#include "apps/common/ics.hpp"

#include <cmath>
#include <iostream>
#include <map>

namespace nl::apps {

std::vector<ProbeRow> run_ics(const IcsConfig& config) {
  const std::vector<std::string> norms =
      config.norms.empty() ? std::vector<std::string>{"none", "bn", "noisybn"} : config.norms;
  std::vector<ProbeRow> rows;
  for (const std::string& norm : norms) {
    auto probe = [&](Module& model, Optimizer& opt, const data::Batch& batch, int64_t step) {
      const std::map<std::string, Tensor> saved = snapshot(model);
      std::map<std::string, Tensor> opt_saved;
      for (auto& [k, t] : opt.state_dict()) opt_saved[k] = t.clone();
      const auto [loss, g] = loss_and_grad(model, batch);
      opt.step();  // this step's update, to read W_{t+1}
      const std::map<std::string, Tensor> updated = snapshot(model);
      opt.load_state_dict(opt_saved);
      const auto ranges = parameter_ranges(model);
      const auto named = model.named_parameters();
      std::map<std::string, size_t> index;
      for (size_t i = 0; i < named.size(); ++i) index[named[i].first] = i;
      for (auto& [name, m] : model.named_modules()) {
        if (m->type_name() != "Conv2d" && m->type_name() != "Linear") continue;
        const size_t k = index.at(name + ".weight");
        // The layers before i updated, layer i and the rest as they were; buffers as they were.
        std::map<std::string, Tensor> mixed = saved;
        for (size_t j = 0; j < k; ++j) mixed[named[j].first] = updated.at(named[j].first);
        model.load_state_dict(mixed);
        const auto [loss_after, g_after] = loss_and_grad(model, batch);
        double diff = 0, dot = 0, n1 = 0, n2 = 0;
        for (int64_t e = ranges[k].first; e < ranges[k].second; ++e) {
          diff += (g[e] - g_after[e]) * (g[e] - g_after[e]);
          dot += g[e] * g_after[e], n1 += g[e] * g[e], n2 += g_after[e] * g_after[e];
        }
        const double cosine = n1 > 0 && n2 > 0 ? dot / std::sqrt(n1 * n2) : 0.0;
        rows.push_back({norm, "plain", name, "ics_l2", int(step), std::sqrt(diff)});
        rows.push_back({norm, "plain", name, "ics_cos", int(step), cosine});
      }
      model.load_state_dict(saved);
      rows.push_back({norm, "plain", "", "loss", int(step), loss});  // is it training fast?
      std::cout << "ics " << norm << " step " << step << ": loss " << loss << "\n" << std::flush;
    };
    const int64_t diverged = train_with_probes(config.run, norm, probe);
    if (diverged >= 0) rows.push_back({norm, "plain", "", "diverged", int(diverged), 1.0});
  }
  return rows;
}

}  // namespace nl::apps
