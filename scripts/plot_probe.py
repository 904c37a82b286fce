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
if experiment == "ics":  # one value per layer and step: plot the mean over the layers
    for panel, by_norm in series.items():
        for norm, points in by_norm.items():
            steps = defaultdict(list)
            for i, v in points:
                steps[i].append(v)
            by_norm[norm] = [(i, sum(v) / len(v)) for i, v in sorted(steps.items())]
fig, axes = plt.subplots(1, len(series), figsize=(6 * len(series), 4), squeeze=False,
                         sharey=shared_y)
for ax, ((metric, residual), by_norm) in zip(axes[0], series.items()):
    for norm, points in by_norm.items():
        ax.plot([i for i, _ in points], [v for _, v in points], marker=".", label=norm)
    title = f"{experiment}: {metric}" + ("" if residual == "plain" else f" ({residual})")
    xlabel = {"groupsweep": "epoch", "landscape": "training step", "ics": "training step"}
    ax.set(xlabel=xlabel.get(experiment, "layer (depth order)"),
           ylabel=metric + (" (mean over layers)" if experiment == "ics" else ""), title=title)
    if metric in ("activation_variance", "grad_norm", "loss_variation", "grad_pred_max",
                  "grad_pred_min", "beta_smoothness", "ics_l2"):
        ax.set_yscale("log")
    ax.grid(alpha=.3); ax.legend(fontsize=7)
fig.tight_layout(); fig.savefig(a.output, dpi=110)
print("wrote", a.output)
