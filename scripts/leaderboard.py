#!/usr/bin/env python3
"""The normalizer leaderboard: every registered normalizer (and the normalizer-free remedies)
trained with one recipe and budget, one row each.

    python3 scripts/leaderboard.py run      # trains the rows not finished yet; resumable
    python3 scripts/leaderboard.py report   # docs/results/leaderboard.md + .png (leaderboard_report.py)
    python3 scripts/leaderboard.py list     # the rows and their state
    python3 scripts/leaderboard.py save-progress  # unfinished rows' checkpoints into the repo
    python3 scripts/leaderboard.py bench    # every row's speed and memory, side by side
    python3 scripts/leaderboard.py recalibrate  # accuracy with recomputed running statistics

The runs' own epoch times depend on whatever else the machine ran meanwhile, so the table's
speed and memory columns come from `bench`: `build/apps/bench` on every row's model (random
data, batch 128, one thread), all rows in one sitting on a quiet machine, best of --repeats
passes, written to docs/results/leaderboard/throughput.jsonl with the CPU, the date and how busy
the machine was before each row.

Eval with the running statistics a layer kept while training is the recipe's (and PyTorch's)
default. `recalibrate` also evaluates each finished row's final checkpoint after recomputing
those statistics as a plain average over RECALIBRATE_IMAGES training images (`evaluate
--recalibrate`, "precise BN"), into docs/results/leaderboard/<row>/recalibrated.json: where the
two accuracies differ, the running averages misrepresent the final weights (Cross-Iteration
BN's do). It needs the row's checkpoint, which only the cache holds; `run` does it after each
row it finishes. Where that checkpoint is gone, a throwaway one of the same model (one epoch on
256 images) tells whether the model keeps running statistics at all: if not, the row is n/a.

`--suite cropfill` runs the same machinery for the crop-fill study instead: the standard recipe
(train's defaults, 30 epochs) with `--crop-fill mean` for gn:groups=8, ln and bn, to compare
with the zero-fill runs of docs/results.md; its rows live in docs/results/cropfill/ and its
report is docs/results/cropfill.md.

Budget: ResNet-20 (width 16), the full CIFAR-10 training set for 10 epochs, batch 128, SGD with
Nesterov momentum 0.9, weight decay 5e-4, one-cycle to lr 0.1 (15% warm-up, linear), seed 0,
one thread per run (--parallel N runs N rows at once on a bigger machine).

A row is finished when its committed metrics (docs/results/leaderboard/<row>/metrics.jsonl) hold
all epochs, or when it diverged (train exit code 3, recorded in status.json). An unfinished row
resumes from its checkpoint in the cache folder (--cache, default ~/.cache/normlab-leaderboard)
after any interruption; with no checkpoint there it starts again. The cache does not outlive the
machine, so `save-progress` copies an unfinished row's last checkpoint (gzipped) and its metrics
into docs/results/leaderboard/<row>/resume/, to be committed; `run` on a fresh machine restores it from
there, and deletes that folder once the row is finished. Finished rows commit metrics, config and
status only.

Several `run`s may work at once (a second one started when a core frees up, or several on a
bigger machine, besides --parallel): each claims a row in its cache folder (runner.pid) before
training it, and the others skip a row whose runner is alive; a claim left by a runner that died
is taken over.
"""
import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from machine_load import busy_cpus, cpu_model

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Suite:
    """A set of rows trained with one recipe: where their results live and how many epochs
    finish a row. Every command takes the suite it works on."""
    name: str
    results: Path  # committed: <row>/metrics.jsonl, config.json, status.json, resume/
    epochs: int
    recipe: list   # train's flags shared by every row (the row adds --norm and its extras)
    rows: list     # (normalizer spec, extra flags), in the order they run

    def cache(self, args):
        """The machine-local folder of the suite's runs (checkpoints, logs)."""
        root = Path(args.cache)
        return root if self.name == "leaderboard" else root / self.name

    def status(self, rid):
        f = self.results / rid / "status.json"
        return json.loads(f.read_text()) if f.exists() else {}

    def finished(self, rid):
        return self.status(rid).get("state") in ("done", "diverged")


# Most-used first, so a partial leaderboard answers the common questions early. Rows that need a
# remedy (no activation normalizer) also run with it.
LEADERBOARD_ROWS = [
    ("bn", []), ("gn:groups=8", []), ("ln", []), ("in", []), ("none", []),
    ("none", ["--residual", "skipinit"]), ("none", ["--residual", "fixup"]),
    ("gn+ws:groups=8", []), ("frn", []), ("evos0", []), ("evob0", []), ("pn:ln", []),
    ("gbn", []), ("bgn", []), ("brn", []), ("bcn", []), ("vn", []), ("mbn", []), ("iebn", []), ("bin", []),
    ("cbn", []), ("online", []), ("lpbn", []), ("switch", []), ("ln2d", []), ("pono", []),
    ("rms", []), ("rms2d", []), ("lrn", []), ("noisybn", []),
    ("ws", []), ("ws", ["--residual", "skipinit"]), ("sws", []), ("sws", ["--residual", "skipinit"]),
    ("wn", []), ("cwn", []), ("wc", []), ("sn", []), ("sbn", []),
]
# Rows trained data-parallel under MPI, with their number of ranks: SyncBatchNorm differs from
# one process's BatchNorm only across ranks, so its row runs 2 ranks of 64 images each (the
# global batch stays 128; it equals BatchNorm over the concatenated batch).
RANKS = {"sbn": 2}
LEADERBOARD = Suite(
    name="leaderboard", results=ROOT / "docs" / "results" / "leaderboard", epochs=10,
    recipe=["--model", "resnet20", "--width", "16", "--epochs", "10", "--batch-size", "128",
            "--lr", "0.1", "--schedule", "onecycle", "--seed", "0"],
    rows=LEADERBOARD_ROWS)

# The crop-fill study: train's defaults are the standard recipe of docs/results.md (ResNet-20,
# 30 epochs, batch 128, one-cycle to 0.1, seed 0); only the fill of the crop's border changes.
CROPFILL = Suite(
    name="cropfill", results=ROOT / "docs" / "results" / "cropfill", epochs=30,
    recipe=["--epochs", "30", "--seed", "0"],
    rows=[("gn:groups=8", ["--crop-fill", "mean"]), ("ln", ["--crop-fill", "mean"]),
          ("bn", ["--crop-fill", "mean"])])
# The zero-fill runs they are compared with (docs/results.md).
ZERO_FILL_RUNS = {"gn:groups=8": "gn8.jsonl", "ln": "ln.jsonl", "bn": "bn.jsonl"}


def row_id(spec, extra):
    label = spec + ("_" + "_".join(a.lstrip("-") for a in extra) if extra else "")
    return "".join(c if c.isalnum() else "_" for c in label)


def spec_names(spec):
    """The normalizers a spec names, in order: gn+ws:groups=8 -> [gn, ws] (options come last)."""
    return spec.split(":")[0].split("+")


def launcher(rid):
    """What starts a row's training: nothing for one process, mpirun for the rows in RANKS."""
    if rid not in RANKS:
        return []
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise SystemExit(f"leaderboard: row {rid} trains under MPI and mpirun was not found "
                         "(Debian: openmpi-bin; normlab built with libopenmpi-dev)")
    # The ranks share the cores with other runners' rows: not bound to a core, and yielding the
    # core while they wait for each other instead of spinning. As root Open MPI refuses to start
    # without --allow-run-as-root.
    return [mpirun, "-np", str(RANKS[rid]), "--bind-to", "none",
            "--mca", "mpi_yield_when_idle", "1",
            *(["--allow-run-as-root"] if os.geteuid() == 0 else [])]


def shown(path):
    """A path for messages: relative to the repository when inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def read_metrics(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def claim(out):
    """Takes the row whose cache folder is `out` for this runner (out/runner.pid); False while
    another live runner has it. A runner that died leaves its claim behind: it is taken over."""
    lock = out / "runner.pid"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        text = lock.read_text().strip()
        if not text:
            return False  # being written by the runner that just took it
        try:
            os.kill(int(text), 0)
            return int(text) == os.getpid()
        except ProcessLookupError:
            lock.unlink(missing_ok=True)
            return claim(out)
        except (PermissionError, ValueError):
            return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


def run_row(suite, spec, extra, args):
    rid = row_id(spec, extra)
    out = suite.cache(args) / rid
    out.mkdir(parents=True, exist_ok=True)
    if not claim(out):
        print(f"{rid}: another runner has it; skipped", flush=True)
        return "taken"
    try:
        # This runner's list of rows was made when it started: another runner may have finished
        # the row since (a diverging row takes seconds) and released it.
        if suite.finished(rid):
            print(f"{rid}: finished by another runner; skipped", flush=True)
            return "finished"
        return train_row(suite, spec, extra, args, rid, out)
    finally:
        (out / "runner.pid").unlink(missing_ok=True)


def train_row(suite, spec, extra, args, rid, out):
    ck = out / "checkpoint.safetensors"
    saved = suite.results / rid / "resume"
    if not ck.exists() and (saved / "checkpoint.safetensors.gz").exists():
        with gzip.open(saved / "checkpoint.safetensors.gz", "rb") as src, open(ck, "wb") as dst:
            shutil.copyfileobj(src, dst)
        for name in ("metrics.jsonl", "config.json"):
            if (saved / name).exists():
                shutil.copy(saved / name, out / name)
        print(f"{rid}: restored the checkpoint saved in {shown(saved)}", flush=True)
    train_args = ["--data", args.data, "--norm", spec, *suite.recipe, *extra,
                  "--threads", str(args.threads), "--out", str(out)]
    done_epochs = len(read_metrics(out / "metrics.jsonl"))
    if ck.exists() and 0 < done_epochs < suite.epochs:
        train_args += ["--resume", str(ck)]
    cmd = [*launcher(rid), str(args.binary), *train_args]
    # The command as the docs show it: "train ..." (after "mpirun -np K" for a data-parallel row).
    shown_cmd = " ".join([*(["mpirun", "-np", str(RANKS[rid])] if rid in RANKS else []), "train",
                          *train_args])
    log = out / "log.txt"
    rc = 0  # a row finished in the cache but not yet copied only needs the copy below
    if done_epochs < suite.epochs:
        print(f"[{time.strftime('%H:%M:%S')}] {rid}: {shown_cmd}", flush=True)
        with open(log, "a") as f:
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    dest = suite.results / rid
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.jsonl", "config.json"):
        if (out / name).exists():
            shutil.copy(out / name, dest / name)
    metrics = read_metrics(out / "metrics.jsonl")
    state = "done" if rc == 0 and len(metrics) >= suite.epochs else \
        "diverged" if rc == 3 else "interrupted"
    tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
    record = {"spec": spec, "extra": extra, "state": state, "rc": rc,
              "epochs_done": len(metrics),
              "command": shown_cmd.replace(str(out), "OUT").replace(args.data, "DATA"),
              "last_line": tail[0] if tail else ""}
    (dest / "status.json").write_text(json.dumps(record, indent=2) + "\n")
    if state != "interrupted" and saved.exists():
        shutil.rmtree(saved)
    print(f"[{time.strftime('%H:%M:%S')}] {rid}: {state} (rc {rc})", flush=True)
    if state == "done" and suite is LEADERBOARD:
        recalibrate_row(suite, spec, extra, args)
    return state


RECALIBRATE_IMAGES = 3840  # 30 batches of 128


def evaluate_checkpoint(ck, rid, args, *flags):
    """`evaluate CK` (with flags): the test accuracy and how many running statistics
    --recalibrate recomputed (0: the model keeps none)."""
    binary = getattr(args, "evaluate", ROOT / "build" / "apps" / "evaluate")
    r = subprocess.run([str(binary), str(ck), "--data", args.data, "--threads",
                        str(args.threads), *flags], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"leaderboard recalibrate: {rid}: evaluate failed: "
                         f"{(r.stderr or r.stdout).strip()}")
    acc = re.search(r"test accuracy ([0-9.]+)%", r.stdout)
    stats = re.search(r"recomputed (\d+) running statistics", r.stdout)
    return float(acc.group(1)) / 100, int(stats.group(1)) if stats else 0


def keeps_running_statistics(suite, spec, extra, rid, args):
    """Whether a row's model keeps running statistics, asked of a throwaway checkpoint (one
    epoch on 256 images): it depends on the model, not on its training."""
    train = getattr(args, "binary", ROOT / "build" / "apps" / "train")
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([str(train), "--data", args.data, "--norm", spec, *suite.recipe, *extra,
                            "--epochs", "1", "--train-limit", "256", "--test-limit", "128",
                            "--threads", str(args.threads), "--out", tmp],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"leaderboard recalibrate: {rid}: the throwaway run failed: "
                             f"{(r.stderr or r.stdout).strip()}")
        ck = Path(tmp) / "checkpoint.safetensors"
        return evaluate_checkpoint(ck, rid, args, "--recalibrate", "128")[1] > 0


def recalibrate_row(suite, spec, extra, args):
    """recalibrated.json of a finished row: its final checkpoint's test accuracy with the running
    statistics it kept, and with them recomputed over RECALIBRATE_IMAGES training images. When
    the cache has no checkpoint of exactly the committed run, the row is recorded only if its
    model keeps no running statistics (then there is nothing to recompute: n/a)."""
    rid = row_id(spec, extra)
    out = suite.cache(args) / rid
    ck = out / "checkpoint.safetensors"
    committed = read_metrics(suite.results / rid / "metrics.jsonl")
    if not ck.exists() or read_metrics(out / "metrics.jsonl") != committed:
        if keeps_running_statistics(suite, spec, extra, rid, args):
            print(f"{rid}: no checkpoint of the committed run in {shown(out)}; not recalibrated")
            return
        final = committed[-1]["test_acc"]
        record = {"images": 0, "running_statistics": 0, "checkpoint": False,
                  "test_acc_kept": final, "test_acc_recomputed": final}
        (suite.results / rid / "recalibrated.json").write_text(json.dumps(record, indent=2) + "\n")
        print(f"{rid}: no checkpoint of the committed run, and its model keeps no running "
              "statistics: nothing to recompute", flush=True)
        return

    # Today's binary may round differently from the one that trained the row (a few test images
    # may flip); more than that means the checkpoint is not the committed run's.
    kept, _ = evaluate_checkpoint(ck, rid, args)
    if abs(kept - committed[-1]["test_acc"]) > 0.002:
        print(f"{rid}: the checkpoint scores {100 * kept:.2f}%, the committed metrics say "
              f"{100 * committed[-1]['test_acc']:.2f}%; not recalibrated", flush=True)
        return
    recomputed, buffers = evaluate_checkpoint(ck, rid, args, "--recalibrate",
                                              str(RECALIBRATE_IMAGES))
    record = {"images": RECALIBRATE_IMAGES, "running_statistics": buffers, "test_acc_kept": kept,
              "test_acc_recomputed": recomputed if buffers else kept}
    (suite.results / rid / "recalibrated.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"{rid}: test accuracy {100 * kept:.2f}% with the kept statistics, "
          + (f"{100 * recomputed:.2f}% recomputed ({buffers} buffers)" if buffers
             else "no running statistics"), flush=True)


def cmd_recalibrate(suite, args):
    """recalibrated.json for every finished row that lacks one and whose checkpoint is cached."""
    for spec, extra in suite.rows:
        rid = row_id(spec, extra)
        if (suite.status(rid).get("state") == "done"
                and not (suite.results / rid / "recalibrated.json").exists()):
            recalibrate_row(suite, spec, extra, args)


# The folder of the runners' private binaries inside the cache: a name no row id can take (row
# ids come from specs, which never start with a dot; "bin" is Batch-Instance Norm's row).
BINARIES = ".bin"

def cmd_run(suite, args):
    # A private copy of the binary: rebuilding the tree must not pull it from under a run (and
    # each suite its own, in its own cache, as one suite's copy may be running while the other
    # starts).
    binary = suite.cache(args) / BINARIES / "train"
    binary.parent.mkdir(parents=True, exist_ok=True)
    # Copied under another name, then renamed: another runner may be executing the old copy.
    fresh = binary.with_name(f"train.{os.getpid()}")
    shutil.copy(ROOT / "build" / "apps" / "train", fresh)
    os.replace(fresh, binary)
    args.binary = binary
    evaluate = binary.with_name("evaluate")
    fresh = binary.with_name(f"evaluate.{os.getpid()}")
    shutil.copy(ROOT / "build" / "apps" / "evaluate", fresh)
    os.replace(fresh, evaluate)
    args.evaluate = evaluate
    todo = [(s, e) for s, e in suite.rows if not suite.finished(row_id(s, e))]
    print(f"{len(suite.rows) - len(todo)} of {len(suite.rows)} rows finished; {len(todo)} to run",
          flush=True)
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        list(pool.map(lambda r: run_row(suite, r[0], r[1], args), todo))


MAX_COMMITTED_CHECKPOINT = 2 * 2**20  # bytes, compressed


def cmd_save_progress(suite, args):
    """Copies each unfinished row's checkpoint from the cache into the repository."""
    for spec, extra in suite.rows:
        rid = row_id(spec, extra)
        out = suite.cache(args) / rid
        done = len(read_metrics(out / "metrics.jsonl"))
        if (suite.finished(rid) or not (out / "checkpoint.safetensors").exists()
                or done >= suite.epochs):
            continue
        saved = suite.results / rid / "resume"
        # gzip keeps a ResNet-20 checkpoint (weights and momentum) under 2 MiB in the repository;
        # a normalizer with a large state of its own (cbn keeps a window of past weights) does
        # not fit, and that row restarts from epoch 0 on a fresh machine instead.
        packed = gzip.compress((out / "checkpoint.safetensors").read_bytes(), compresslevel=9)
        if len(packed) > MAX_COMMITTED_CHECKPOINT:
            print(f"{rid}: not saved: its checkpoint after epoch {done} is "
                  f"{len(packed) / 2**20:.1f} MiB compressed (the repository takes at most "
                  f"{MAX_COMMITTED_CHECKPOINT / 2**20:.0f} MiB); it resumes only from this "
                  f"machine's cache")
            continue
        saved.mkdir(parents=True, exist_ok=True)
        (saved / "checkpoint.safetensors.gz").write_bytes(packed)
        for name in ("metrics.jsonl", "config.json"):
            if (out / name).exists():
                shutil.copy(out / name, saved / name)
        print(f"{rid}: saved after epoch {done} in {shown(saved)}")


def cmd_bench(suite, args):
    """throughput.jsonl: each row's training and inference speed and peak memory, measured by
    `bench` in one sitting (best of --repeats interleaved passes, so a passing disturbance
    costs one sample, not a row)."""
    binary = ROOT / "build" / "apps" / "bench"
    best = {}
    for rep in range(args.repeats):
        for spec, extra in suite.rows:
            rid = row_id(spec, extra)
            residual = extra[extra.index("--residual") + 1] if "--residual" in extra else "plain"
            busy = busy_cpus()
            if busy > 0.1:
                print(f"leaderboard bench: warning: {100 * busy:.0f}% of the CPUs busy before "
                      f"{rid}; its figures will read low", file=sys.stderr, flush=True)
            out = subprocess.run(
                [str(binary), "--model", "resnet20", "--width", "16", "--norm", spec,
                 "--residual", residual, "--batch-size", "128", "--threads", "1",
                 "--iters", str(args.iters), "--warmup", "2", "--profile-iters", "0"],
                capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"leaderboard bench: {rid}: bench failed: {out.stderr.strip()}")
            b = json.loads(out.stdout.strip().splitlines()[-1])
            line = {"row": rid, "spec": spec, "residual": residual,
                    "train_img_per_s": b["train_img_per_s"], "infer_img_per_s": b["infer_img_per_s"],
                    "peak_rss_mib": b["peak_rss_mib"], "infer_peak_rss_mib": b["infer_peak_rss_mib"],
                    "cpus_busy_before": round(busy, 3)}
            prev = best.get(rid)
            if prev is None or line["train_img_per_s"] > prev["train_img_per_s"]:
                best[rid] = line
            print(f"pass {rep + 1}/{args.repeats} {rid:32s} train {b['train_img_per_s']:6.1f} "
                  f"infer {b['infer_img_per_s']:6.1f} img/s  peak {b['peak_rss_mib']:.0f} MiB",
                  flush=True)
    stamp = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_model(), "iters": args.iters,
             "repeats": args.repeats, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "")}
    out_file = suite.results / "throughput.jsonl"
    with open(out_file, "w") as f:
        for spec, extra in suite.rows:
            f.write(json.dumps({**best[row_id(spec, extra)], **stamp}) + "\n")
    print(f"wrote {shown(out_file)} ({len(best)} rows)")


def runner_of(out):
    """The pid of the live runner training the row in `out`, or None."""
    try:
        pid = int((out / "runner.pid").read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def cmd_list(suite, args):
    for spec, extra in suite.rows:
        rid = row_id(spec, extra)
        st = suite.status(rid)
        out = suite.cache(args) / rid
        pid = runner_of(out)
        if pid is not None and st.get("state") not in ("done", "diverged"):
            done = len(read_metrics(out / "metrics.jsonl"))
            print(f"{rid:32s} {'training':12s} {done}/{suite.epochs} (runner {pid})")
            continue
        if not st:
            # Interrupted: epochs in the cache folder, else in the committed resume/ checkpoint.
            done = max(len(read_metrics(out / "metrics.jsonl")),
                       len(read_metrics(suite.results / rid / "resume" / "metrics.jsonl")))
            if done:
                print(f"{rid:32s} {'interrupted':12s} {done}/{suite.epochs} (resumes)")
                continue
        print(f"{rid:32s} {st.get('state', 'not run'):12s} "
              f"{st.get('epochs_done', 0)}/{suite.epochs}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command",
                   choices=["run", "report", "list", "save-progress", "bench", "recalibrate"])
    p.add_argument("--suite", choices=["leaderboard", "cropfill"], default="leaderboard")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "cifar10-jpeg"))
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/normlab-leaderboard"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--parallel", type=int, default=1, help="rows trained at once")
    p.add_argument("--iters", type=int, default=10, help="bench: timed steps per row and pass")
    p.add_argument("--repeats", type=int, default=4, help="bench: passes over all rows (best kept)")
    args = p.parse_args()
    suite = {"leaderboard": LEADERBOARD, "cropfill": CROPFILL}[args.suite]
    import leaderboard_report  # noqa: E402 (it imports this module)
    report = (leaderboard_report.cmd_report if suite is LEADERBOARD
              else leaderboard_report.cmd_report_cropfill)
    {"run": cmd_run, "report": report, "list": cmd_list, "bench": cmd_bench,
     "save-progress": cmd_save_progress, "recalibrate": cmd_recalibrate}[args.command](suite, args)


if __name__ == "__main__":
    main()
