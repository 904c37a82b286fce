#!/usr/bin/env bash
# One epoch of the standard recipe (one-cycle up to lr 0.1 and back, within the epoch) for each
# normalizer setting given, on ResNet-20 unless MODEL is set: a quick check that a normalizer
# trains without NaN before a long run. Writes runs/one_epoch/<label>/ and appends "label rc test_acc seconds" to
# runs/one_epoch/summary.txt (rc 3 = diverged, with the layer named in <label>/log.txt).
# Usage: scripts/one_epoch_runs.sh "none --residual fixup" "pn:ln" ...
#        THREADS=1 MODEL=resnet56 EXTRA="--train-limit 10000" scripts/one_epoch_runs.sh ...
set -u
cd "$(dirname "$0")/.."
data=${DATA:-../shared/datasets/cifar10-jpeg}
model=${MODEL:-resnet20}
mkdir -p runs/one_epoch
for setting in "$@"; do
  read -r norm rest <<<"$setting"
  label="${model}_$(echo "$setting" | tr ' :=,+' '_____' | tr -s '_' | sed 's/_-*/_/g')"
  out=runs/one_epoch/$label
  mkdir -p "$out"
  start=$(date +%s)
  # shellcheck disable=SC2086
  ./build/apps/train --data "$data" --model "$model" --norm "$norm" $rest --epochs 1 \
    --threads "${THREADS:-2}" --out "$out" ${EXTRA:-} >"$out/log.txt" 2>&1
  rc=$?
  acc=$(grep -o 'final test accuracy [0-9.]*%' "$out/log.txt" | awk '{print $4}')
  echo "$label rc=$rc acc=${acc:-none} seconds=$(($(date +%s) - start))" | tee -a runs/one_epoch/summary.txt
done
