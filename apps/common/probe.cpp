#include "apps/common/probe.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "apps/common/probe_metrics.hpp"
#include "apps/common/training.hpp"
#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "core/random.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/loss.hpp"
#include "layers/models/resnet.hpp"
#include "layers/models/vgg.hpp"
#include "layers/norm/proxy_norm.hpp"

namespace nl::apps {
namespace {

struct Batch {
  Tensor x;
  std::vector<int64_t> labels;
};

// batch_size distinct random training images (a seeded partial shuffle), normalized per channel.
Batch draw_batch(const data::ImageSet& set, int64_t size, uint64_t seed) {
  check(set.size() >= size, "probe", "batch of ", size, " but only ", set.size(),
        " training images");
  Generator g(seed);
  std::vector<int64_t> order(set.size());
  for (int64_t i = 0; i < set.size(); ++i) order[i] = i;
  for (int64_t i = 0; i < size; ++i) {
    const int64_t j = i + int64_t(g.next_u64() % uint64_t(set.size() - i));
    std::swap(order[i], order[j]);
  }
  order.resize(size);
  const auto stats = set.channel_stats();
  const std::vector<float> mean(stats.mean.begin(), stats.mean.end()),
      std(stats.std.begin(), stats.std.end());
  Batch b{normalized_images(set, order, mean, std), {}};
  for (int64_t i : order) b.labels.push_back(set.label(i));
  return b;
}

// The "units" whose outputs are probed: residual blocks in a ResNet, else every ReLU.
std::vector<std::pair<std::string, ModulePtr>> probe_units(const Module& model) {
  std::vector<std::pair<std::string, ModulePtr>> blocks, relus;
  for (auto& [name, m] : model.named_modules()) {
    if (dynamic_cast<const BasicBlock*>(m.get())) blocks.emplace_back(name, m);
    if (m->type_name() == "ReLU" || m->type_name() == "CenteredReLU") relus.emplace_back(name, m);
  }
  return blocks.empty() ? relus : blocks;
}

// The norm slots of the plain CNN: the module after each convolution in VGG::features.
std::vector<std::pair<std::string, ModulePtr>> norm_slots(Module& model) {
  auto* vgg = dynamic_cast<VGG*>(&model);
  check(
      vgg != nullptr, "probe power",
      "runs on the plain VGG-style CNN, like the paper's random network; pass --model vgg<depth>");
  std::vector<std::pair<std::string, ModulePtr>> slots;
  const auto& layers = vgg->features->children();
  for (size_t i = 0; i + 1 < layers.size(); ++i)
    if (layers[i].second->type_name() == "Conv2d")
      slots.emplace_back("features." + layers[i + 1].first, layers[i + 1].second);
  return slots;
}

// Proxy Norm's Definition-1 network draws the affine at random, gamma ~ N(1, 0.2^2) and
// beta ~ N(0, 0.2^2) per channel: with gamma = 1, beta = 0 every channel would look alike.
void randomize_norm_affine(Module& model, uint64_t seed) {
  Generator g(seed + 1);
  for (auto& [slot_name, slot] : norm_slots(model))
    for (auto& [name, p] : slot->named_parameters()) {
      const bool gain = name == "weight" || name.ends_with(".weight");
      const bool shift = name == "bias" || name.ends_with(".bias");
      if (p.dim() != 1 || !(gain || shift)) continue;
      p.copy_(add(mul(Tensor::randn(p.shape(), g, p.dtype()), 0.2), gain ? 1.0 : 0.0));
    }
}

// Records each slot's pre-activation: its output, or for Proxy Norm (which applies the ReLU
// itself) gamma LN(x) + beta from its input.
void hook_pre_activations(Module& model, std::vector<std::pair<std::string, Tensor>>& outputs) {
  for (auto& [name, slot] : norm_slots(model)) {
    const bool proxy = slot->type_name() == "ProxyNorm";
    slot->register_forward_hook(
        [&outputs, name = name, proxy](Module& m, const Tensor& x, const Tensor& y) {
          outputs.emplace_back(name, proxy ? static_cast<ProxyNorm&>(m).pre_activation(x) : y);
        });
  }
}

// Runs one experiment on one model; appends rows labelled with `label`.
void probe_model(const std::string& experiment, Module& model, const Batch& batch, uint64_t seed,
                 const ProbeRow& label, std::vector<ProbeRow>& rows) {
  auto row = [&](const std::string& layer, const char* metric, int index, double value) {
    ProbeRow r = label;
    r.layer = layer, r.metric = metric, r.index = index, r.value = value;
    rows.push_back(r);
  };
  if (experiment == "gradnorm") {
    // Keep every convolution's output and ask autograd to retain its gradient.
    std::vector<std::pair<std::string, Tensor>> outputs;
    for (auto& [name, m] : model.named_modules())
      if (m->type_name() == "Conv2d")
        m->register_forward_hook([&outputs, name = name](Module&, const Tensor&, const Tensor& y) {
          Tensor kept = y;
          kept.retain_grad();
          outputs.emplace_back(name, kept);
        });
    const Tensor loss = cross_entropy(model(batch.x), batch.labels);
    loss.backward();
    int index = 0;
    for (auto& [name, y] : outputs)
      row(name, "grad_norm", ++index, probe::frobenius_norm(y.grad()));
    return;
  }
  NoGradGuard no_grad;
  std::vector<std::pair<std::string, Tensor>> outputs;
  if (experiment == "power") {
    randomize_norm_affine(model, seed);
    hook_pre_activations(model, outputs);
  } else {
    for (auto& [name, m] : probe_units(model))
      m->register_forward_hook([&outputs, name = name](Module&, const Tensor&, const Tensor& y) {
        outputs.emplace_back(name, y);
      });
  }
  model(batch.x);
  int index = 0;
  for (auto& [name, y] : outputs) {
    ++index;
    if (experiment == "power") {
      const probe::PowerParts p = probe::power_decomposition(y);
      row(name, "channel_constant", index, p.channel_constant);
      row(name, "instance_constant", index, p.instance_constant);
      row(name, "instance_varying", index, p.instance_varying);
    } else if (experiment == "depth") {
      row(name, "activation_variance", index, probe::activation_variance(y));
    } else {
      const probe::Similarity s = probe::sample_similarity(y);
      row(name, "mean_cosine", index, s.mean_cosine);
      row(name, "stable_rank", index, s.stable_rank);
    }
  }
}

}  // namespace

std::vector<std::string> default_probe_norms(const std::string& experiment) {
  if (experiment == "power") return {"bn", "ln", "in", "gn:groups=8", "pn:ln", "ln+ws"};
  if (experiment == "depth")
    return {"none", "bn", "ln", "in", "gn:groups=8", "frn", "evob0", "evos0", "wn", "sws"};
  if (experiment == "similarity" || experiment == "gradnorm")
    return {"gn:group_size=1",
            "gn:group_size=2",
            "gn:group_size=4",
            "gn:group_size=8",
            "gn:group_size=16",
            "ln",
            "bn"};
  throw Error("probe: unknown experiment '" + experiment +
              "' (expected depth, similarity, gradnorm or power)");
}

std::vector<ProbeRow> run_probe(const ProbeConfig& config, const data::ImageSet& train) {
  const std::vector<std::string> norms =
      config.norms.empty() ? default_probe_norms(config.experiment) : config.norms;
  default_probe_norms(config.experiment);  // validates the name
  std::vector<std::string> residuals = config.residuals;
  if (residuals.empty()) {
    residuals = {"plain"};
    if (config.experiment == "depth" && config.model.rfind("resnet", 0) == 0)
      residuals.push_back("skipinit");
  }
  const Batch batch = draw_batch(train, config.batch_size, config.seed);
  std::vector<ProbeRow> rows;
  for (const std::string& residual : residuals)
    for (const std::string& norm : norms) {
      manual_seed(config.seed);
      const ModelOptions options{16, norm, int(train.num_classes()), true, residual};
      ModulePtr model = make_model(config.model, options);
      model->train();
      probe_model(config.experiment, *model, batch, config.seed, ProbeRow{norm, residual, {}, {}},
                  rows);
    }
  return rows;
}

void write_probe_csv(std::ostream& f, const std::string& experiment,
                     const std::vector<ProbeRow>& rows) {
  f << "experiment,norm,residual,index,layer,metric,value,seed\n";
  f.precision(10);
  for (const ProbeRow& r : rows)
    f << experiment << ",\"" << r.norm << "\"," << r.residual << "," << r.index << "," << r.layer
      << "," << r.metric << "," << r.value << "," << r.seed << "\n";
}

void write_probe_csv(const std::string& path, const std::string& experiment,
                     const std::vector<ProbeRow>& rows) {
  std::ofstream f(path);
  check(bool(f), "probe", "cannot write ", path);
  write_probe_csv(f, experiment, rows);
}

std::vector<ProbeRow> read_probe_csv(const std::string& path) {
  std::ifstream f(path);
  check(bool(f), "probe CSV", "cannot read ", path);
  std::vector<ProbeRow> rows;
  std::string line;
  int64_t number = 0;
  bool header = false;
  while (std::getline(f, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    if (!header) {
      check(line == "experiment,norm,residual,index,layer,metric,value,seed", "probe CSV", path,
            ": not a probe CSV (header '", line, "')");
      header = true;
      continue;
    }
    // The norm is quoted (a spec may hold commas); the other fields have none.
    const size_t open = line.find(",\""), close = line.find("\",", open + 2);
    check(open != std::string::npos && close != std::string::npos, "probe CSV", path, " line ",
          number, ": malformed row '", line, "'");
    ProbeRow r;
    r.norm = line.substr(open + 2, close - open - 2);
    std::vector<std::string> rest;
    std::stringstream tail(line.substr(close + 2));
    for (std::string field; std::getline(tail, field, ',');) rest.push_back(field);
    if (!line.empty() && line.back() == ',') rest.emplace_back();
    check(rest.size() == 6, "probe CSV", path, " line ", number, ": expected 8 fields, got '", line,
          "'");
    try {
      r.residual = rest[0];
      r.index = std::stoi(rest[1]);
      r.layer = rest[2];
      r.metric = rest[3];
      r.value = std::stod(rest[4]);
      r.seed = std::stoull(rest[5]);
    } catch (const std::logic_error&) {
      throw Error("probe CSV: " + path + " line " + std::to_string(number) + ": bad number in '" +
                  line + "'");
    }
    rows.push_back(r);
  }
  check(header, "probe CSV", path, ": empty file, no CSV header");
  return rows;
}

namespace {

struct Spread {
  double mean = 0, sd = 0, min = 0, max = 0;
};
Spread spread_of(const std::vector<double>& v) {
  Spread s{0, 0, *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
  for (double x : v) s.mean += x / double(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0.0;  // sample sd
  return s;
}
std::string spread_text(const std::vector<double>& v) {
  std::ostringstream os;
  os.precision(3);
  const Spread s = spread_of(v);
  os << s.mean;
  if (v.size() > 1) os << " +- " << s.sd << " [" << s.min << ", " << s.max << "]";
  return os.str();
}
// exp(slope) of log(value) against position: the factor per layer of a geometric growth.
double growth_per_layer(const std::vector<double>& values) {
  const double n = double(values.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < values.size(); ++i) mx += double(i) / n, my += std::log(values[i]) / n;
  double cov = 0, var = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    cov += (double(i) - mx) * (std::log(values[i]) - my);
    var += (double(i) - mx) * (double(i) - mx);
  }
  return var > 0 ? std::exp(cov / var) : 1.0;
}

}  // namespace

std::string probe_summary(const std::vector<ProbeRow>& rows, const std::string& axis) {
  // (metric, norm) -> seed -> index -> value, keys in first-seen order. A metric measured at
  // several layers per index (ics: every layer at every step) is their mean at that index.
  using Key = std::pair<std::string, std::string>;
  struct Sum {
    double total = 0;
    int count = 0;
  };
  std::vector<Key> keys;
  std::map<Key, std::map<uint64_t, std::map<int, Sum>>> sums;
  std::set<uint64_t> seeds;
  bool averaged = false;
  for (const ProbeRow& r : rows) {
    const Key key{r.metric, r.residual == "plain" ? r.norm : r.norm + " (" + r.residual + ")"};
    if (!sums.count(key)) keys.push_back(key);
    Sum& sum = sums[key][r.seed][r.index];
    sum.total += r.value;
    averaged |= ++sum.count > 1;
    seeds.insert(r.seed);
  }
  const auto value = [&](const Key& k, uint64_t seed, int index) -> std::optional<double> {
    const auto& by_seed = sums.at(k);
    const auto s = by_seed.find(seed);
    if (s == by_seed.end() || !s->second.count(index)) return std::nullopt;
    const Sum& sum = s->second.at(index);
    return sum.total / sum.count;
  };
  // The indices a key was measured at, over all seeds, ascending.
  const auto indices = [&](const Key& k) {
    std::set<int> all;
    for (const auto& [seed, by_index] : sums.at(k))
      for (const auto& [index, sum] : by_index) all.insert(index);
    return std::vector<int>(all.begin(), all.end());
  };
  std::ostringstream os;
  os.precision(4);
  if (seeds.size() > 1)
    os << seeds.size() << " seeds: mean +- standard deviation [min, max] over the seeds\n";
  if (averaged)
    os << "a metric measured at several layers is given as their mean at each " << axis << "\n";
  os << "metric               norm                 first | middle | last " << axis
     << " (which ones in brackets)\n";
  for (const Key& key : keys) {
    const std::vector<int> at = indices(key);
    const int points[3] = {at.front(), at[at.size() / 2], at.back()};
    os << key.first << std::string(21 - std::min<size_t>(20, key.first.size()), ' ') << key.second
       << std::string(21 - std::min<size_t>(20, key.second.size()), ' ');
    for (int i = 0; i < 3; ++i) {
      std::vector<double> v;
      for (uint64_t seed : seeds)
        if (const auto x = value(key, seed, points[i])) v.push_back(*x);
      os << (i ? " | " : "") << spread_text(v);
    }
    os << "  (" << axis << " " << points[0] << ", " << points[1] << ", " << points[2] << ")\n";
  }
  // The claim of the depth experiment: geometric growth, stated with its spread.
  for (const Key& key : keys) {
    if (key.first != "activation_variance") continue;
    std::vector<double> growth;
    for (const auto& [seed, by_index] : sums.at(key)) {
      std::vector<double> v;
      for (const auto& [index, sum] : by_index) v.push_back(sum.total / sum.count);
      if (v.size() > 1 && std::all_of(v.begin(), v.end(), [](double x) { return x > 0; }))
        growth.push_back(growth_per_layer(v));
    }
    if (!growth.empty())
      os << "growth per block of the activation variance, " << key.second << ": "
         << spread_text(growth) << "\n";
  }
  // Does the ordering of the normalizers at the last index hold seed by seed? A seed missing a
  // normalizer's value there breaks it.
  if (seeds.size() > 1) {
    std::map<std::string, std::vector<Key>> by_metric;
    for (const Key& key : keys) by_metric[key.first].push_back(key);
    for (const auto& [metric, ks] : by_metric) {
      if (ks.size() < 2) continue;
      std::map<Key, double> mean_last;
      std::map<Key, int> last_of;
      std::set<int> lasts;
      for (const Key& k : ks) {
        const int last = last_of[k] = indices(k).back();
        lasts.insert(last);
        std::vector<double> v;
        for (uint64_t seed : seeds)
          if (const auto x = value(k, seed, last)) v.push_back(*x);
        mean_last[k] = spread_of(v).mean;
      }
      std::vector<Key> order = ks;
      std::sort(order.begin(), order.end(),
                [&](const Key& a, const Key& b) { return mean_last[a] < mean_last[b]; });
      std::vector<uint64_t> breaking;
      for (uint64_t seed : seeds) {
        bool holds = true;
        for (size_t i = 1; i < order.size(); ++i) {
          const auto lo = value(order[i - 1], seed, last_of[order[i - 1]]);
          const auto hi = value(order[i], seed, last_of[order[i]]);
          if (!lo || !hi || *lo > *hi) holds = false;
        }
        if (!holds) breaking.push_back(seed);
      }
      os << metric << " at the last " << axis;
      if (lasts.size() == 1) os << " (" << *lasts.begin() << ")";
      os << ", ascending by the mean: ";
      for (size_t i = 0; i < order.size(); ++i) os << (i ? " < " : "") << order[i].second;
      if (breaking.empty()) {
        os << "; holds in every seed\n";
      } else {
        os << "; holds on average only (" << breaking.size() << " of " << seeds.size()
           << " seeds order them otherwise)\n";
      }
    }
  }
  return os.str();
}

}  // namespace nl::apps
