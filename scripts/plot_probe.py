"""Plots a probe CSV (experiment,norm,residual,index,layer,metric,value): one panel per metric
and residual remedy (plain, skipinit, ...), one line per normalizer, value against layer depth
(log scale for variance and gradient norms).
Usage: /usr/bin/python3 scripts/plot_probe.py runs/probe/depth.csv -o docs/experiments/depth.png"""
import argparse, csv
from collections import defaultdict
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

p = argparse.ArgumentParser()
p.add_argument("csv"); p.add_argument("-o", "--output", required=True)
a = p.parse_args()
series = defaultdict(lambda: defaultdict(list))  # (metric, residual) -> norm -> [(index, value)]
experiment = ""
for row in csv.DictReader(open(a.csv)):
    experiment = row["experiment"]
    panel = (row["metric"], row.get("residual", "plain"))
    series[panel][row["norm"]].append((int(row["index"]), float(row["value"])))
shared_y = len({residual for _, residual in series}) > 1
fig, axes = plt.subplots(1, len(series), figsize=(6 * len(series), 4), squeeze=False,
                         sharey=shared_y)
for ax, ((metric, residual), by_norm) in zip(axes[0], series.items()):
    for norm, points in by_norm.items():
        ax.plot([i for i, _ in points], [v for _, v in points], marker=".", label=norm)
    title = f"{experiment}: {metric}" + ("" if residual == "plain" else f" ({residual})")
    ax.set(xlabel="layer (depth order)", ylabel=metric, title=title)
    if metric in ("activation_variance", "grad_norm"):
        ax.set_yscale("log")
    ax.grid(alpha=.3); ax.legend(fontsize=7)
fig.tight_layout(); fig.savefig(a.output, dpi=110)
print("wrote", a.output)
