#!/usr/bin/env python3
"""BatchNorm across ranks: test accuracy and training loss of `bn` (per-rank statistics), `sbn`
(statistics pooled over all ranks) and `gn:groups=8` as one global batch is spread over 1, 2,
4 and 8 ranks (oversubscribed on a small machine: only the arithmetic matters here, not speed).

    python3 scripts/distributed_bn.py run      # trains the runs not finished yet (resumable)
    python3 scripts/distributed_bn.py report   # docs/experiments/distributed-bn.{csv,png}

Budget (small, stated on the page): ResNet-20 (width 16), a fixed 10,000-image subset of the
CIFAR-10 training set for 6 epochs, global batch 32 (8 ranks: 4 samples each), SGD + Nesterov,
one-cycle to lr 0.025 (0.1 x 32/128, the linear scaling rule), weight decay 5e-4, the first
5,000 test images, seed 0. Runs go to --cache (default ~/.cache/normlab-distributed-bn);
their metrics.jsonl files are copied to docs/experiments/distributed-bn/.
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "experiments" / "distributed-bn"
NORMS = ["bn", "sbn", "gn:groups=8"]
RANKS = [1, 2, 4, 8]
EPOCHS = 6
RECIPE = ["--model", "resnet20", "--width", "16", "--epochs", str(EPOCHS), "--batch-size", "32",
          "--lr", "0.025", "--schedule", "onecycle", "--train-limit", "10000",
          "--test-limit", "5000", "--seed", "0", "--threads", "1"]


def run_id(norm, ranks):
    return f"{''.join(c if c.isalnum() else '_' for c in norm)}_np{ranks}"


def metrics(path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []


def cmd_run(args):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    # A private copy of the binary: rebuilding the tree must not pull it from under a run.
    binary = Path(args.cache) / "bin" / "train"
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "build" / "apps" / "train", binary)
    for ranks in RANKS:
        for norm in NORMS:
            rid = run_id(norm, ranks)
            if len(metrics(OUT / rid / "metrics.jsonl")) >= EPOCHS or (norm, ranks) == ("sbn", 1):
                continue  # (sbn on one rank is bn to the bit: the report reuses bn's run)
            out = Path(args.cache) / rid
            out.mkdir(parents=True, exist_ok=True)
            cmd = ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none",
                   str(binary), "--data", args.data, "--norm", norm,
                   *RECIPE, "--out", str(out)]
            done = len(metrics(out / "metrics.jsonl"))
            if (out / "checkpoint.safetensors").exists() and 0 < done < EPOCHS:
                cmd += ["--resume", str(out / "checkpoint.safetensors")]
            print(" ".join(cmd), flush=True)
            with open(out / "log.txt", "a") as log:
                rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            (OUT / rid).mkdir(parents=True, exist_ok=True)
            for name in ("metrics.jsonl", "config.json"):
                if (out / name).exists():
                    shutil.copy(out / name, OUT / rid / name)
            print(f"{rid}: rc {rc}", flush=True)


def cmd_report(_args):
    rows = []
    for norm in NORMS:
        for ranks in RANKS:
            m = metrics(OUT / run_id("bn" if (norm, ranks) == ("sbn", 1) else norm, ranks) /
                        "metrics.jsonl")
            if len(m) < EPOCHS:
                continue
            rows.append({"norm": norm, "ranks": ranks, "per_rank_batch": 32 // ranks,
                         "test_acc": m[-1]["test_acc"], "best_test_acc": max(x["test_acc"] for x in m),
                         "train_loss": m[-1]["train_loss"], "test_loss": m[-1]["test_loss"]})
    with open(ROOT / "docs" / "experiments" / "distributed-bn.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else ["norm"])
        w.writeheader()
        w.writerows(rows)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colours = {"bn": "tab:blue", "sbn": "tab:green", "gn:groups=8": "tab:orange"}
    labels = {"bn": "bn (statistics per rank)", "sbn": "sbn (statistics over all ranks)",
              "gn:groups=8": "gn, 8 groups (per sample)"}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for norm in NORMS:
        pts = [r for r in rows if r["norm"] == norm]
        if not pts:
            continue
        x = [r["ranks"] for r in pts]
        axes[0].plot(x, [100 * r["test_acc"] for r in pts], "o-", color=colours[norm], label=labels[norm])
        axes[1].plot(x, [r["train_loss"] for r in pts], "o-", color=colours[norm], label=labels[norm])
    for ax, title in zip(axes, ["final test accuracy (%)", "final training loss"]):
        ax.set_xscale("log", base=2)
        ax.set_xticks(RANKS)
        ax.set_xticklabels([f"{k}\n({32 // k}/rank)" for k in RANKS])
        ax.set_xlabel("ranks (samples per rank of the global batch of 32)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle(f"ResNet-20, 10k CIFAR-10 images x {EPOCHS} epochs, global batch 32, spread over ranks")
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "experiments" / "distributed-bn.png", dpi=120)
    for r in rows:
        print(r)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=["run", "report"])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "cifar10-jpeg"))
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/normlab-distributed-bn"))
    args = p.parse_args()
    {"run": cmd_run, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
