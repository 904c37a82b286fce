"""Plots a probe CSV (experiment,norm,index,layer,metric,value): one panel per metric, one line
per normalizer, value against layer depth (log scale for variance and gradient norms).
Usage: /usr/bin/python3 scripts/plot_probe.py runs/probe/depth.csv -o docs/experiments/depth.png"""
import argparse, csv
from collections import defaultdict
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

p = argparse.ArgumentParser()
p.add_argument("csv"); p.add_argument("-o", "--output", required=True)
a = p.parse_args()
series = defaultdict(lambda: defaultdict(list))  # metric -> norm -> [(index, value)]
experiment = ""
for row in csv.DictReader(open(a.csv)):
    experiment = row["experiment"]
    series[row["metric"]][row["norm"]].append((int(row["index"]), float(row["value"])))
fig, axes = plt.subplots(1, len(series), figsize=(6 * len(series), 4), squeeze=False)
for ax, (metric, by_norm) in zip(axes[0], series.items()):
    for norm, points in by_norm.items():
        ax.plot([i for i, _ in points], [v for _, v in points], marker=".", label=norm)
    ax.set(xlabel="layer (depth order)", ylabel=metric, title=f"{experiment}: {metric}")
    if metric in ("activation_variance", "grad_norm"):
        ax.set_yscale("log")
    ax.grid(alpha=.3); ax.legend(fontsize=7)
fig.tight_layout(); fig.savefig(a.output, dpi=110)
print("wrote", a.output)
