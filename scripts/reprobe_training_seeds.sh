#!/usr/bin/env bash
# Re-measures the training-run probes of docs/experiments over several seeds (issue: science,
# seeds and error bands): groupsweep, landscape and ics (each also at lr 0.02, as on their pages)
# and batchsweep, each with the command of its page plus --seeds N (default 3). Hours in all, so it resumes: every finished seed is kept by
# probe as runs/probe-seeds/<name>/<experiment>.seed<k>.csv, `save` copies those into
# docs/experiments/seeds/<name>/ (to commit), and a run on a fresh clone restores them first.
# When a probe has all its seeds, its CSV, figure (mean and min-max band) and summary
# (<name>.seeds.txt) go to docs/experiments/.
# Usage: bash scripts/reprobe_training_seeds.sh [N] [THREADS]    run (resumable)
#        bash scripts/reprobe_training_seeds.sh save              keep the finished seeds
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/probe-seeds
kept=docs/experiments/seeds
# Each run: the name of its files in docs/experiments, then the probe's arguments.
# Shortest seeds first, so that a session's end loses as little as possible.
runs=("groupsweep groupsweep"
      "landscape landscape"
      "landscape_lr002 landscape --lr 0.02"
      "ics ics"
      "ics_lr002 ics --lr 0.02 --norm none --norm bn"
      "batchsweep batchsweep --model resnet20")
if [[ "${1:-}" == "save" ]]; then
  for run in "${runs[@]}"; do
    read -r name experiment _ <<< "$run"
    shopt -s nullglob
    files=("$out/$name/$experiment".seed*.csv)
    if (( ${#files[@]} )); then
      mkdir -p "$kept/$name"
      cp "${files[@]}" "$kept/$name/"
      echo "$name: kept ${#files[@]} seed(s) in $kept/$name"
    fi
  done
  exit 0
fi
seeds="${1:-3}"; threads="${2:-1}"
for run in "${runs[@]}"; do
  read -r name experiment args <<< "$run"
  mkdir -p "$out/$name"
  if [[ -d "$kept/$name" ]]; then cp -n "$kept/$name"/*.csv "$out/$name/" 2>/dev/null || true; fi
  echo "== $name ($seeds seeds)"
  # Exit code 3 = some run diverged: a result (kept in the CSV and named in the summary).
  rc=0
  # shellcheck disable=SC2086  # args is a word list
  ./build/apps/probe "$experiment" $args --seeds "$seeds" --threads "$threads" --out "$out/$name" \
    > "$out/$name/summary.txt" || rc=$?
  cat "$out/$name/summary.txt"
  if (( rc != 0 && rc != 3 )); then echo "$name: probe failed (exit $rc)" >&2; exit "$rc"; fi
  cp "$out/$name/summary.txt" "docs/experiments/$name.seeds.txt"
  cp "$out/$name/$experiment.csv" "docs/experiments/$name.csv"
  /usr/bin/python3 scripts/plot_probe.py "docs/experiments/$name.csv" -o "docs/experiments/$name.png"
done
