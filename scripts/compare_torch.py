"""Paired comparison of normlab and PyTorch training/inference throughput (issue: performance).

Alternates runs A B A B ... of `build/apps/bench` and `scripts/torch_bench.py` with the same
model, batch and thread count, and prints per normalizer the median ratio normlab/PyTorch.
Usage: python3 scripts/compare_torch.py --threads 2 --pairs 3 --norms bn gn:groups=8 ln in none
"""
import argparse, json, os, statistics, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2); p.add_argument("--pairs", type=int, default=3)
p.add_argument("--iters", type=int, default=5); p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--norms", nargs="+", default=["bn", "gn:groups=8", "ln", "in", "none"])
a = p.parse_args()


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()
    return json.loads(out[-1])


for norm in a.norms:
    ours, theirs = [], []
    for _ in range(a.pairs):
        ours.append(run([os.path.join(root, "build/apps/bench"), "--norm", norm, "--threads", str(a.threads),
                         "--iters", str(a.iters), "--batch-size", str(a.batch_size)]))
        theirs.append(run([sys.executable, os.path.join(root, "scripts/torch_bench.py"), "--norm", norm,
                           "--threads", str(a.threads), "--iters", str(a.iters), "--batch-size", str(a.batch_size)]))
    row = {"norm": norm, "threads": a.threads, "pairs": a.pairs}
    for key in ("train_img_per_s", "infer_img_per_s"):
        row["normlab_" + key] = statistics.median(r[key] for r in ours)
        row["pytorch_" + key] = statistics.median(r[key] for r in theirs)
        row["ratio_" + key.split("_")[0]] = round(statistics.median(o[key] / t[key] for o, t in zip(ours, theirs)), 3)
    row["normlab_peak_rss_mib"] = max(r["peak_rss_mib"] for r in ours)
    row["pytorch_peak_rss_mib"] = max(r["peak_rss_mib"] for r in theirs)
    print(json.dumps(row), flush=True)
