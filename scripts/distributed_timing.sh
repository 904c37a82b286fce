#!/usr/bin/env bash
# The measurements of docs/distributed.md, on this machine, in one run (pause other jobs first):
#   1. the done-when check: 2 ranks vs 1 process with the same global batch (sbn), beside a
#      1-process run with eps perturbed by 1e-6 relative (what "float noise" amounts to);
#   2. the per-step split (compute, gradient allreduce, SyncBatchNorm) of ResNet-20 at 1, 2 and
#      4 ranks, batch 128, for sbn and bn;
#   3. 1 process x 2 threads against 2 processes x 1 thread, same global batch;
#   4. bench_comm: the allreduce sweep 64 KiB .. 16 MiB at 2 and 4 ranks.
# Writes docs/perf/distributed.jsonl (the metrics lines, tagged) and docs/perf/allreduce.jsonl.
# Usage: bash scripts/distributed_timing.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/datasets/cifar10-jpeg}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
train=build/apps/train
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
out=docs/perf/distributed.jsonl; : > "$out"
tag() {  # tag NAME DIR: appends DIR's metrics lines to $out with "run": NAME
  python3 -c '
import json, sys
for line in open(sys.argv[2] + "/metrics.jsonl"):
    d = json.loads(line); d["run"] = sys.argv[1]; print(json.dumps(d))' "$1" "$2" >> "$out"
}
date -u +"measured %Y-%m-%d on $(lscpu | sed -n 's/^Model name: *//p')"

echo "== 1. 2 ranks vs 1 process, sbn, --epochs 1 --train-limit 4096"
"$train" --data "$data" --norm sbn --epochs 1 --train-limit 4096 --threads 1 --out "$work/one" > /dev/null
tag "sbn, 1 process" "$work/one"
"$train" --data "$data" --norm bn:eps=1.00001e-5 --epochs 1 --train-limit 4096 --threads 1 --out "$work/eps" > /dev/null
tag "bn with eps x (1 + 1e-6), 1 process" "$work/eps"
mpirun -np 2 "$train" --data "$data" --norm sbn --epochs 1 --train-limit 4096 --out "$work/two" > /dev/null
tag "sbn, 2 ranks" "$work/two"

echo "== 2. the step split, ResNet-20, batch 128"
for norm in sbn bn; do
  for np in 1 2 4; do
    mpirun -np "$np" --oversubscribe --bind-to none "$train" --data "$data" --norm "$norm" --epochs 1 \
      --train-limit 2560 --test-limit 500 --threads 1 --out "$work/split_${norm}_$np" > /dev/null
    tag "split $norm np$np" "$work/split_${norm}_$np"
  done
done

echo "== 3. 1 process x 2 threads vs 2 processes x 1 thread"
for norm in bn gn:groups=8; do
  "$train" --data "$data" --norm "$norm" --epochs 1 --train-limit 5120 --test-limit 500 --threads 2 \
    --out "$work/t2_$norm" > /dev/null
  tag "$norm, 1 process x 2 threads" "$work/t2_$norm"
  mpirun -np 2 "$train" --data "$data" --norm "$norm" --epochs 1 --train-limit 5120 --test-limit 500 \
    --out "$work/p2_$norm" > /dev/null
  tag "$norm, 2 processes x 1 thread" "$work/p2_$norm"
done

echo "== 4. allreduce sweep"
: > docs/perf/allreduce.jsonl
mpirun -np 2 build/apps/bench_comm --json docs/perf/allreduce.jsonl
mpirun -np 4 --oversubscribe build/apps/bench_comm --json docs/perf/allreduce.jsonl
python3 - "$out" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    split = ""
    if "step_s" in d:
        comp = d["step_s"] - d["allreduce_s"] - d["sync_bn_s"]
        split = (f" step {1e3*d['step_s']:.1f} ms = compute {1e3*comp:.1f} + allreduce "
                 f"{1e3*d['allreduce_s']:.2f} + sbn {1e3*d['sync_bn_s']:.2f}")
    print(f"{d['run']:40s} train loss {d['train_loss']:.6f} test acc {d['test_acc']:.4f} "
          f"test loss {d['test_loss']:.6f} {d['img_per_s']:.0f} img/s{split}")
PY
