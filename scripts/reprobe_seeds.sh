#!/usr/bin/env bash
# Re-measures the initialisation probes of docs/experiments with several seeds (issue: science,
# seeds and error bands): depth, similarity and gradnorm on ResNet-56 and power on VGG-20, each
# with --seeds N (default 10), the CSVs and figures (mean and min-max band) into
# docs/experiments/, the summaries (means, spreads, orderings) into docs/experiments/*.seeds.txt.
# Usage: bash scripts/reprobe_seeds.sh [N] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-10}"; threads="${2:-0}"
out=runs/probe-seeds; mkdir -p "$out"
for run in "depth resnet56" "similarity resnet56" "gradnorm resnet56" "power vgg20"; do
  read -r experiment model <<< "$run"
  echo "== $experiment ($model, $seeds seeds)"
  ./build/apps/probe "$experiment" --model "$model" --seeds "$seeds" --threads "$threads" \
    --out "$out" | tee "docs/experiments/$experiment.seeds.txt"
  cp "$out/$experiment.csv" "docs/experiments/$experiment.csv"
  /usr/bin/python3 scripts/plot_probe.py "docs/experiments/$experiment.csv" \
    -o "docs/experiments/$experiment.png"
done
