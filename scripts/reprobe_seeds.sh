#!/usr/bin/env bash
# Re-measures the initialisation probes of docs/experiments with several seeds (issue: science,
# seeds and error bands): depth, similarity and gradnorm on ResNet-56, power and similarity on
# VGG-20, each with --seeds N (default 10), the CSVs and figures (mean and min-max band) into
# docs/experiments/, the summaries (means, spreads, orderings) into docs/experiments/*.seeds.txt.
# Usage: bash scripts/reprobe_seeds.sh [N] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-10}"; threads="${2:-0}"
out=runs/probe-seeds; mkdir -p "$out"
# Each run: experiment, model, the name of its files in docs/experiments.
for run in "depth resnet56 depth" "similarity resnet56 similarity" "gradnorm resnet56 gradnorm" \
           "power vgg20 power" "similarity vgg20 similarity_vgg"; do
  read -r experiment model name <<< "$run"
  echo "== $experiment ($model, $seeds seeds)"
  mkdir -p "$out/$name"
  ./build/apps/probe "$experiment" --model "$model" --seeds "$seeds" --threads "$threads" \
    --out "$out/$name" | tee "docs/experiments/$name.seeds.txt"
  cp "$out/$name/$experiment.csv" "docs/experiments/$name.csv"
  /usr/bin/python3 scripts/plot_probe.py "docs/experiments/$name.csv" \
    -o "docs/experiments/$name.png"
done
