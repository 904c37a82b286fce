#!/usr/bin/env python3
"""The normalizer leaderboard: every registered normalizer (and the normalizer-free remedies)
trained with one recipe and budget, one row each.

    python3 scripts/leaderboard.py run      # trains the rows not finished yet; resumable
    python3 scripts/leaderboard.py report   # docs/results/leaderboard.md + leaderboard.png
    python3 scripts/leaderboard.py list     # the rows and their state
    python3 scripts/leaderboard.py save-progress  # unfinished rows' checkpoints into the repo

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
"""
import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results" / "leaderboard"
EPOCHS = 10
RECIPE = ["--model", "resnet20", "--width", "16", "--epochs", str(EPOCHS), "--batch-size", "128",
          "--lr", "0.1", "--schedule", "onecycle", "--seed", "0"]

# Most-used first, so a partial leaderboard answers the common questions early. Rows that need a
# remedy (no activation normalizer) also run with it.
ROWS = [
    ("bn", []), ("gn:groups=8", []), ("ln", []), ("in", []), ("none", []),
    ("none", ["--residual", "skipinit"]), ("none", ["--residual", "fixup"]),
    ("gn+ws:groups=8", []), ("frn", []), ("evos0", []), ("evob0", []), ("pn:ln", []),
    ("gbn", []), ("bgn", []), ("brn", []), ("bcn", []), ("vn", []), ("mbn", []), ("iebn", []), ("bin", []),
    ("cbn", []), ("online", []), ("lpbn", []), ("switch", []), ("ln2d", []), ("pono", []),
    ("rms", []), ("rms2d", []), ("lrn", []), ("noisybn", []),
    ("ws", []), ("ws", ["--residual", "skipinit"]), ("sws", []), ("sws", ["--residual", "skipinit"]),
    ("wn", []), ("cwn", []), ("wc", []), ("sn", []),
]


def row_id(spec, extra):
    label = spec + ("_" + "_".join(a.lstrip("-") for a in extra) if extra else "")
    return "".join(c if c.isalnum() else "_" for c in label)


def read_metrics(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def status(rid):
    f = RESULTS / rid / "status.json"
    return json.loads(f.read_text()) if f.exists() else {}


def finished(rid):
    return status(rid).get("state") in ("done", "diverged")


def run_row(spec, extra, args):
    rid = row_id(spec, extra)
    out = Path(args.cache) / rid
    out.mkdir(parents=True, exist_ok=True)
    ck = out / "checkpoint.safetensors"
    saved = RESULTS / rid / "resume"
    if not ck.exists() and (saved / "checkpoint.safetensors.gz").exists():
        with gzip.open(saved / "checkpoint.safetensors.gz", "rb") as src, open(ck, "wb") as dst:
            shutil.copyfileobj(src, dst)
        for name in ("metrics.jsonl", "config.json"):
            if (saved / name).exists():
                shutil.copy(saved / name, out / name)
        print(f"{rid}: restored the checkpoint saved in {saved.relative_to(ROOT)}", flush=True)
    cmd = [str(args.binary), "--data", args.data, "--norm", spec, *RECIPE, *extra,
           "--threads", str(args.threads), "--out", str(out)]
    done_epochs = len(read_metrics(out / "metrics.jsonl"))
    if ck.exists() and 0 < done_epochs < EPOCHS:
        cmd += ["--resume", str(ck)]
    log = out / "log.txt"
    rc = 0  # a row finished in the cache but not yet copied only needs the copy below
    if done_epochs < EPOCHS:
        print(f"[{time.strftime('%H:%M:%S')}] {rid}: {' '.join(cmd[1:])}", flush=True)
        with open(log, "a") as f:
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    dest = RESULTS / rid
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.jsonl", "config.json"):
        if (out / name).exists():
            shutil.copy(out / name, dest / name)
    metrics = read_metrics(out / "metrics.jsonl")
    state = "done" if rc == 0 and len(metrics) >= EPOCHS else \
        "diverged" if rc == 3 else "interrupted"
    tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
    record = {"spec": spec, "extra": extra, "state": state, "rc": rc,
              "epochs_done": len(metrics), "command": "train " + " ".join(cmd[1:]).replace(
                  str(out), "OUT").replace(args.data, "DATA"),
              "last_line": tail[0] if tail else ""}
    (dest / "status.json").write_text(json.dumps(record, indent=2) + "\n")
    if state != "interrupted" and saved.exists():
        shutil.rmtree(saved)
    print(f"[{time.strftime('%H:%M:%S')}] {rid}: {state} (rc {rc})", flush=True)
    return state


def cmd_run(args):
    # A private copy of the binary: rebuilding the tree must not pull it from under a run.
    binary = Path(args.cache) / "bin" / "train"
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "build" / "apps" / "train", binary)
    args.binary = binary
    todo = [(s, e) for s, e in ROWS if not finished(row_id(s, e))]
    print(f"{len(ROWS) - len(todo)} of {len(ROWS)} rows finished; {len(todo)} to run", flush=True)
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        list(pool.map(lambda r: run_row(r[0], r[1], args), todo))


def cmd_save_progress(args):
    """Copies each unfinished row's checkpoint from the cache into the repository."""
    for spec, extra in ROWS:
        rid = row_id(spec, extra)
        out = Path(args.cache) / rid
        done = len(read_metrics(out / "metrics.jsonl"))
        if finished(rid) or not (out / "checkpoint.safetensors").exists() or done >= EPOCHS:
            continue
        saved = RESULTS / rid / "resume"
        saved.mkdir(parents=True, exist_ok=True)
        # gzip keeps a ResNet-20 checkpoint (weights and momentum) under 2 MiB in the repository.
        with open(out / "checkpoint.safetensors", "rb") as src, \
                gzip.open(saved / "checkpoint.safetensors.gz", "wb", compresslevel=9) as dst:
            shutil.copyfileobj(src, dst)
        for name in ("metrics.jsonl", "config.json"):
            if (out / name).exists():
                shutil.copy(out / name, saved / name)
        print(f"{rid}: saved after epoch {done} in {saved.relative_to(ROOT)}")


def cmd_list(_args):
    for spec, extra in ROWS:
        rid = row_id(spec, extra)
        st = status(rid)
        print(f"{rid:32s} {st.get('state', 'not run'):12s} {st.get('epochs_done', 0)}/{EPOCHS}")


def cmd_report(args):
    rows = []
    for spec, extra in ROWS:
        rid = row_id(spec, extra)
        st = status(rid)
        if st.get("state") not in ("done", "diverged"):
            continue
        m = read_metrics(RESULTS / rid / "metrics.jsonl")
        rows.append({
            "row": rid, "spec": spec, "remedy": " ".join(extra) or "-", "state": st["state"],
            "final": m[-1]["test_acc"] if m and st["state"] == "done" else None,
            "best": max(x["test_acc"] for x in m) if m else None,
            "img_s": sorted(x["img_per_s"] for x in m)[len(m) // 2] if m else None,
            "command": st["command"]})
    rows.sort(key=lambda r: -(r["final"] if r["final"] is not None else -1))
    bench = {}
    bench_file = RESULTS / "throughput.jsonl"
    if bench_file.exists():
        for line in bench_file.read_text().splitlines():
            if line.strip():
                b = json.loads(line)
                bench[b["norm"]] = b
    lines = [
        "# Leaderboard: every normalizer, one recipe",
        "",
        "Generated by `python3 scripts/leaderboard.py report` from the committed metrics in",
        "`docs/results/leaderboard/<row>/`; `python3 scripts/leaderboard.py run` trains the rows",
        "still missing (resumable).",
        "",
        f"Budget: ResNet-20 (width 16) on the CIFAR-10 JPEG folder, all 50,000 training images for "
        f"{EPOCHS} epochs, batch 128, SGD + Nesterov 0.9, weight decay 5e-4 on all parameters, "
        "one-cycle to lr 0.1 (15% warm-up, linear), seed 0, one thread per run. One seed: "
        "differences of a few tenths of a point are within seed noise.",
        "",
        "Throughput is the median epoch's training images per second of the run itself, one "
        "thread; rows trained while the machine also ran other jobs (builds, tests) read low, so "
        "compare speeds with `bench` measured side by side, not across rows. Peak RSS comes from "
        "`throughput.jsonl` in the leaderboard folder (`bench` lines), where measured.",
        "",
        f"{len(rows)} of {len(ROWS)} rows finished.",
        "",
        "| rank | normalizer | remedy | final test acc | best test acc | train img/s (1 thread, median epoch) | peak RSS | state |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        fin = f"{100 * r['final']:.2f}%" if r["final"] is not None else "-"
        best = f"{100 * r['best']:.2f}%" if r["best"] is not None else "-"
        ips = f"{r['img_s']:.0f}" if r["img_s"] else "-"
        peak = bench.get(r["spec"], {}).get("peak_rss_mib")
        lines.append(f"| {i} | `{r['spec']}` | {r['remedy']} | {fin} | {best} | {ips} | "
                     f"{f'{peak:.0f} MiB' if peak else '-'} | {r['state']} |")
    lines += ["", "## Commands", ""]
    for r in rows:
        lines.append(f"- `{r['row']}`: `{r['command']}`")
    missing = [row_id(s, e) for s, e in ROWS if row_id(s, e) not in {r["row"] for r in rows}]
    if missing:
        lines += ["", "Not finished yet: " + ", ".join(f"`{m}`" for m in missing) + "."]
    (ROOT / "docs" / "results" / "leaderboard.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        done = [r for r in rows if r["final"] is not None]
        if done:
            fig, ax = plt.subplots(figsize=(8, 5))
            for r in done:
                ax.scatter(r["img_s"], 100 * r["final"], color="tab:blue")
                ax.annotate(r["row"], (r["img_s"], 100 * r["final"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
            ax.set_xlabel("training throughput, images per second (1 thread)")
            ax.set_ylabel("final test accuracy (%)")
            ax.set_title(f"ResNet-20 on CIFAR-10, {EPOCHS} epochs: accuracy against speed")
            ax.grid(alpha=0.3)
            fig.tight_layout()
            fig.savefig(ROOT / "docs" / "results" / "leaderboard.png", dpi=120)
    except ImportError:
        print("matplotlib missing: table written, figure skipped", file=sys.stderr)
    print(f"wrote docs/results/leaderboard.md ({len(rows)} rows)")
    # The norm pages link to their leaderboard rows.
    subprocess.call([sys.executable, str(ROOT / "scripts" / "norm_page_links.py")])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=["run", "report", "list", "save-progress"])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "cifar10-jpeg"))
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/normlab-leaderboard"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--parallel", type=int, default=1, help="rows trained at once")
    args = p.parse_args()
    {"run": cmd_run, "report": cmd_report, "list": cmd_list,
     "save-progress": cmd_save_progress}[args.command](args)


if __name__ == "__main__":
    main()
