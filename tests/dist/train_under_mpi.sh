#!/usr/bin/env bash
# `train` under mpirun, as a user runs it (ctest -L dist):
#   1. resume: 2 epochs straight vs 1 epoch, stop, resume, 1 more, both on 2 ranks: the metrics
#      (all but the timings) are bit-identical, and only rank 0 wrote files; then a real
#      interruption (SIGTERM to mpirun after the first checkpoint) resumed: bit-identical too;
#   2. a 2-rank run resumed on another rank count: refused for bn (per-rank statistics),
#      allowed for gn;
#   3. a rank that fails (its data folder is missing; its training diverges while the other
#      waits in a collective) ends the whole job non-zero, within seconds, with that rank's
#      message and exit code; the other rank is not left waiting.
# Usage: train_under_mpi.sh MPIEXEC "FLAGS" TRAIN DATA_DIR
set -euo pipefail
mpiexec="$1"; read -r -a flags <<< "$2"; train="$3"; data="$4"
if [ ! -d "$data/train" ]; then
  echo "SKIP: no CIFAR-10 folder at $data"; exit 77
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
run() { local np="$1"; shift; "$mpiexec" -np "$np" "${flags[@]}" "$train" --data "$data" "$@"; }
recipe=(--epochs 2 --train-limit 512 --test-limit 200 --batch-size 64 --threads 1)
strip_timings() {  # the metrics without the fields that measure time
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    for k in ("seconds", "img_per_s", "step_s", "allreduce_s", "sync_bn_s"):
        d.pop(k, None)
    print(json.dumps(d, sort_keys=True))' "$1"
}

echo "== 1. resume on the same ranks is bit-identical"
run 2 --norm sbn "${recipe[@]}" --out "$work/straight" > "$work/straight.log"
run 2 --norm sbn "${recipe[@]}" --out "$work/resumed" --stop-after-epoch 1 > "$work/first.log"
run 2 --resume "$work/resumed/checkpoint.safetensors" --threads 1 --out "$work/resumed" \
  > "$work/second.log"
diff <(strip_timings "$work/straight/metrics.jsonl") <(strip_timings "$work/resumed/metrics.jsonl")
[ "$(wc -l < "$work/straight/metrics.jsonl")" -eq 2 ] || { echo "FAIL: expected 2 metric lines"; exit 1; }
grep -q '"world_size": 2' "$work/straight/config.json" || { echo "FAIL: config.json lacks world_size 2"; exit 1; }
files="$(cd "$work/straight" && ls | sort | tr '\n' ' ')"
[ "$files" = "checkpoint.safetensors config.json metrics.jsonl " ] || { echo "FAIL: files: $files"; exit 1; }
[ "$(grep -c '^epoch ' "$work/straight.log")" -eq 2 ] || { echo "FAIL: more than one rank printed"; exit 1; }

echo "== 1b. a real interruption: SIGTERM to mpirun mid-run, then resume"
run 2 --norm sbn "${recipe[@]}" --epochs 3 --out "$work/straight3" > /dev/null
"$mpiexec" -np 2 "${flags[@]}" "$train" --data "$data" --norm sbn "${recipe[@]}" --epochs 3 \
  --out "$work/killed" > "$work/killed.log" 2>&1 &
launcher=$!
# Up to 10 minutes for the first epoch: under AddressSanitizer on a loaded 2-core machine it has
# taken over 30 s, and killing the job before any checkpoint tests nothing.
for _ in $(seq 12000); do [ -f "$work/killed/checkpoint.safetensors" ] && break; sleep 0.05; done
kill -TERM "$launcher" 2>/dev/null || true   # mpirun stops every rank
wait "$launcher" || true
[ -f "$work/killed/checkpoint.safetensors" ] ||
  { echo "FAIL: no checkpoint after the first epoch within 10 minutes"; cat "$work/killed.log"; exit 1; }
if pgrep -f -- "--out $work/killed" > /dev/null; then echo "FAIL: a rank outlived mpirun"; exit 1; fi
echo "interrupted after $(wc -l < "$work/killed/metrics.jsonl") epoch(s)"
run 2 --resume "$work/killed/checkpoint.safetensors" --threads 1 --out "$work/killed" > /dev/null
diff <(strip_timings "$work/straight3/metrics.jsonl") <(strip_timings "$work/killed/metrics.jsonl")
[ ! -e "$work/killed/checkpoint.safetensors.tmp" ] || { echo "FAIL: a temporary checkpoint was left"; exit 1; }

echo "== 2. another rank count: bn refused, gn allowed"
run 2 --norm bn "${recipe[@]}" --out "$work/bn" --stop-after-epoch 1 > /dev/null
if run 1 --resume "$work/bn/checkpoint.safetensors" --out "$work/bn" > "$work/bn.log" 2>&1; then
  echo "FAIL: bn resumed on another rank count"; exit 1
fi
grep -q "cannot resume on 1 rank(s): the run was trained on 2" "$work/bn.log" || { cat "$work/bn.log"; exit 1; }
run 2 --norm gn:groups=8 "${recipe[@]}" --out "$work/gn" --stop-after-epoch 1 > /dev/null
run 1 --resume "$work/gn/checkpoint.safetensors" --out "$work/gn" > "$work/gn.log"
grep -q "note: resuming a 2-rank run on 1 rank(s)" "$work/gn.log" || { cat "$work/gn.log"; exit 1; }

echo "== 2b. a global batch smaller than the rank count is refused"
if run 2 --norm gn:groups=8 --epochs 1 --train-limit 64 --batch-size 1 > "$work/tiny.log" 2>&1; then
  echo "FAIL: --batch-size 1 on 2 ranks ran"; exit 1
fi
# (CLI11 refuses 1 before normlab does: the range is [2, ...]; 3 ranks with batch 2 reach our check)
if "$mpiexec" -np 3 "${flags[@]}" "$train" --data "$data" --epochs 1 --train-limit 64 \
    --batch-size 2 > "$work/tiny.log" 2>&1; then
  echo "FAIL: --batch-size 2 on 3 ranks ran"; exit 1
fi
grep -q "is the global batch and cannot give each of the 3 ranks a sample" "$work/tiny.log" || { cat "$work/tiny.log"; exit 1; }

echo "== 3. a failing rank ends the job"
start=$(date +%s)
set +e
"$mpiexec" "${flags[@]}" -np 1 "$train" --data "$data" "${recipe[@]}" : \
  -np 1 "$train" --data "$work/no-such-folder" "${recipe[@]}" > "$work/fail.log" 2>&1
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
[ "$rc" -ne 0 ] || { echo "FAIL: mpirun exited 0 although rank 1 failed"; exit 1; }
grep -q "train (rank 1 of 2): .*no-such-folder: data folder not found" "$work/fail.log" || { cat "$work/fail.log"; exit 1; }
[ "$elapsed" -lt 60 ] || { echo "FAIL: the job took ${elapsed} s to end"; exit 1; }
echo "rank 1 failed; mpirun exited $rc after ${elapsed} s"
# MPMD: rank 1 alone takes a step of lr 1e30, so its loss is non-finite at step 2.
start=$(date +%s)
set +e
"$mpiexec" "${flags[@]}" -np 1 "$train" --data "$data" "${recipe[@]}" : \
  -np 1 "$train" --data "$data" "${recipe[@]}" --lr 1e30 > "$work/nan.log" 2>&1
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
[ "$rc" -eq 3 ] || { cat "$work/nan.log"; echo "FAIL: exit code $rc, expected 3 (diverged)"; exit 1; }
grep -q "train (rank 1 of 2): training diverged at epoch 1" "$work/nan.log" || { cat "$work/nan.log"; exit 1; }
[ "$elapsed" -lt 60 ] || { echo "FAIL: the job took ${elapsed} s to end"; exit 1; }
echo "rank 1 diverged; mpirun exited $rc after ${elapsed} s"
echo "PASS"
