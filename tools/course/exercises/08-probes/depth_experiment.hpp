// Exercise 8.1 (an experiment): does the activation variance of a residual network explode
// with depth, and which remedy stops it?
//
// The claim (De & Smith 2020, "Batch normalization biases residual blocks towards the identity";
// docs/experiments/depth.md): at initialisation, without normalization, each residual block of a
// plain ResNet roughly doubles the variance of the activations, so it grows exponentially with
// depth; BatchNorm on the residual branch makes the growth linear at most; SkipInit (a zero gain
// on each branch) keeps the variance where it started, without any normalizer.
//
// 1. Measure it (from the repository root, after building the apps):
//      ./build/apps/probe depth --norm none --norm bn --model resnet20 --batch-size 32 \
//          --seed 0 --out <your workspace>/08-probes
//    (`--residual` defaults to both plain and skipinit), and plot it:
//      python3 scripts/plot_probe.py <your workspace>/08-probes/depth.csv
// 2. Write growth_per_block in depth_experiment.cpp: the growth factor per block fitted over
//    all blocks, exp(b) for the least-squares line log(variance_k) ~ a + b k, k = block index.
//    (Why not (last / first)^(1 / (K - 1))? Look at the bn curve.)
// 3. Answer the questions in depth_experiment.answers.json with true or false.
//
// Graded (ctest -R depth_experiment): growth_per_block on exact geometric series and on series
// where the ends mislead; your measured CSV is present and complete; each answer agrees with
// your own measurement (the grader reads the CSV and fits the growth itself).
#pragma once
#include <vector>

namespace course {

// variances[k] is the activation variance after block k + 1 (k = 0 .. K - 1, K >= 2).
double growth_per_block(const std::vector<double>& variances);

}  // namespace course
