// apps/probe: measurements at initialisation from the normalization papers, on one CIFAR-10
// minibatch (docs/experiments/). One experiment, several normalizers, one row per
// (normalizer, layer, metric):
//   depth       activation variance after every residual block (Beyond BatchNorm, claim i)
//   similarity  mean pairwise cosine similarity and stable rank of the samples' activations
//               after every block (claim ii)
//   gradnorm    ||dL/d(conv output)||_F for every convolution, L = mean cross-entropy (claim iii)
//   power       channel-constant / instance-constant / instance-varying share of every norm
//               slot's pre-activation power in the plain CNN (Proxy Normalization, Fig. 2), with
//               the norm affine drawn gamma ~ N(1, 0.2^2), beta ~ N(0, 0.2^2)
// Models are in training mode, convolutions Kaiming-normal (fan_in, ReLU gain), the batch drawn
// at random from the training set with the seed.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "data/image_set.hpp"

namespace nl::apps {

struct ProbeConfig {
  std::string experiment;          // depth | similarity | gradnorm | power
  std::string model = "resnet56";  // any make_model name
  std::vector<std::string> norms;  // empty: the experiment's default sweep
  uint64_t seed = 0;
  int64_t batch_size = 256;
  // ResNet residual remedies to sweep (plain, skipinit, fixup); empty: depth runs plain and
  // skipinit, the others plain.
  std::vector<std::string> residuals{};
};

struct ProbeRow {
  std::string norm, residual, layer, metric;
  int index = 0;  // depth position of the layer, from 1
  double value = 0;
  uint64_t seed = 0;  // weights and samples drawn from this seed (probe --seeds N: N of them)
};

// The default normalizer sweep of each experiment.
std::vector<std::string> default_probe_norms(const std::string& experiment);

// Runs the experiment on `train` (normalized with its channel statistics).
std::vector<ProbeRow> run_probe(const ProbeConfig& config, const data::ImageSet& train);

// CSV with header experiment,norm,residual,index,layer,metric,value,seed (every seed's rows).
void write_probe_csv(const std::string& path, const std::string& experiment,
                     const std::vector<ProbeRow>& rows);
void write_probe_csv(std::ostream& out, const std::string& experiment,
                     const std::vector<ProbeRow>& rows);
// What write_probe_csv wrote (lines starting with '#' skipped); throws naming the file and line
// on anything else.
std::vector<ProbeRow> read_probe_csv(const std::string& path);

// One screen: per normalizer and metric, the value at the first, middle and last index along
// `axis` (what the rows' index counts: "layer" for the depth probes, "step", "epoch" or "batch
// size" for the training-run ones; a metric with several layers per index is their mean
// there); with several seeds, the mean +- standard deviation over the seeds and their [min,
// max], the growth per layer of the activation variance (a log-linear fit per seed) with its
// spread, and, per metric, whether the ordering of the normalizers at the last index holds in
// every seed or only on average.
std::string probe_summary(const std::vector<ProbeRow>& rows, const std::string& axis = "layer");

}  // namespace nl::apps
