"""Paired comparison of normlab and PyTorch: training and inference throughput and peak memory
(issue: performance II).

For every (model, batch size, normalizer) cell, alternates runs A B C A B C ... of
`build/apps/bench` and `scripts/torch_bench.py` (PyTorch's fastest equivalent module per
normalizer, see its docstring) in PyTorch's two memory formats (B contiguous NCHW, C
channels_last), with the same model, batch and thread count. Within each round PyTorch is
credited with its faster format, separately for training and inference, and its smaller peak
memory: the comparison a user tuning PyTorch for the CPU would make. Reports the median and the
range (min-max) of the per-round ratios normlab / PyTorch (throughput ratios above 1 and memory
ratios below 1 favour normlab), and both formats' medians. --latency adds batch-1 inference per
model.
Writes one JSON line per cell (stdout, and --json FILE) and a markdown table (--markdown FILE).

    python3 scripts/compare_torch.py --threads 2 --pairs 3 \\
        --models resnet20 resnet56 --batch-sizes 32 128 --norms bn gn:groups=8 ln in none \\
        --latency --json runs/matrix.jsonl --markdown runs/matrix.md
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from machine_load import busy_cpus

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--pairs", type=int, default=3)
p.add_argument("--iters", type=int, default=5)
p.add_argument("--models", nargs="+", default=["resnet20"])
p.add_argument("--batch-sizes", nargs="+", type=int, default=[128])
p.add_argument("--norms", nargs="+", default=["bn", "gn:groups=8", "ln", "in", "none"])
p.add_argument("--latency", action="store_true", help="also batch-1 inference per model (bn)")
p.add_argument("--json", help="append the JSON lines to this file")
p.add_argument("--markdown", help="write the table to this file")
a = p.parse_args()


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()
    return json.loads(out[-1])


def depth_of(model):
    if not model.startswith("resnet"):
        raise SystemExit(f"compare_torch: {model}: only the CIFAR ResNets have a PyTorch twin")
    return model[len("resnet"):]


def measure(model, batch, norm, iters):
    ours = []
    busy = busy_cpus()
    if busy > 0.1:
        print(f"compare_torch: warning: {100 * busy:.0f}% of the CPUs busy before {model} batch "
              f"{batch} {norm}: the machine is not quiet, these ratios are not to be trusted",
              file=sys.stderr)
    torch_formats = {"contiguous": [], "channels_last": []}
    for _ in range(a.pairs):
        ours.append(run([os.path.join(root, "build/apps/bench"), "--model", model, "--norm", norm,
                         "--threads", str(a.threads), "--iters", str(iters),
                         "--batch-size", str(batch)]))
        for fmt, runs in torch_formats.items():
            runs.append(run([sys.executable, os.path.join(root, "scripts/torch_bench.py"),
                             "--depth", depth_of(model), "--norm", norm,
                             "--threads", str(a.threads), "--iters", str(iters),
                             "--batch-size", str(batch)] +
                            (["--channels-last"] if fmt == "channels_last" else [])))
    row = {"model": model, "batch": batch, "norm": norm, "threads": a.threads, "pairs": a.pairs,
           "cpus_busy_before": round(busy, 3),
           "date": time.strftime("%Y-%m-%d")}
    rounds = list(zip(ours, torch_formats["contiguous"], torch_formats["channels_last"]))
    for key in ("train_img_per_s", "infer_img_per_s"):
        best = [max(c[key], cl[key]) for _, c, cl in rounds]
        ratios = [o[key] / t for (o, _, _), t in zip(rounds, best)]
        short = key.split("_")[0]
        row["normlab_" + key] = statistics.median(r[key] for r in ours)
        row["pytorch_" + key] = statistics.median(best)
        for fmt, runs in torch_formats.items():
            row[f"pytorch_{fmt}_{key}"] = statistics.median(r[key] for r in runs)
        row[f"ratio_{short}"] = round(statistics.median(ratios), 3)
        row[f"ratio_{short}_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
    row["normlab_peak_rss_mib"] = max(r["peak_rss_mib"] for r in ours)
    row["pytorch_peak_rss_mib"] = max(min(c["peak_rss_mib"], cl["peak_rss_mib"])
                                      for _, c, cl in rounds)
    for key, name in (("peak_rss_mib", "memory"), ("infer_peak_rss_mib", "infer_memory")):
        ratios = [o[key] / min(c[key], cl[key]) for o, c, cl in rounds]
        row[f"ratio_{name}"] = round(statistics.median(ratios), 3)
        row[f"ratio_{name}_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
    return row


rows = []
for model in a.models:
    for batch in a.batch_sizes:
        for norm in a.norms:
            rows.append(measure(model, batch, norm, a.iters))
            print(json.dumps(rows[-1]), flush=True)
    if a.latency:
        r = measure(model, 1, "bn", max(a.iters, 50))
        r["latency"] = True
        rows.append(r)
        print(json.dumps(r), flush=True)
if a.json:
    with open(a.json, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def cell(r, key):
    lo, hi = r[key + "_range"]
    return f"{r[key]:.2f} ({lo:.2f}-{hi:.2f})"


def faster_format(r, key):
    """PyTorch's faster memory format for this cell by its medians: NCHW or CL."""
    cl = r[f"pytorch_channels_last_{key}"] > r[f"pytorch_contiguous_{key}"]
    return "CL" if cl else "NCHW"


if a.markdown:
    lines = ["| model | batch | norm | training | inference | peak memory, training | "
             "peak memory, inference | PyTorch's faster format (training, inference) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        latency = r.get("latency")
        train = "-" if latency else cell(r, "ratio_train")
        formats = ("-" if latency else faster_format(r, "train_img_per_s")) + ", " + \
            faster_format(r, "infer_img_per_s")
        lines.append(f"| {r['model']} | {r['batch']} | {r['norm']} | {train} | "
                     f"{cell(r, 'ratio_infer')} | {'-' if latency else cell(r, 'ratio_memory')} | "
                     f"{cell(r, 'ratio_infer_memory')} | {formats} |")
    with open(a.markdown, "w") as f:
        f.write("\n".join(lines) + "\n")
