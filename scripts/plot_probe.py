"""Plots a probe CSV (experiment,norm,residual,index,layer,metric,value[,seed]): one panel per
metric and residual remedy (plain, skipinit, ...), one line per normalizer against depth or
training time. Every normalizer has the same colour in every figure (NORM_COLOURS; GroupNorm
group sizes and counts as shades of one hue); titles and axes are in words; the legend sits
beside the panels, never on the data; more than three panels wrap onto rows of three. Where the
CSV has a `seed` column the line is the mean over seeds and a band spans min to max.
Usage: /usr/bin/python3 scripts/plot_probe.py runs/probe/depth.csv [-o docs/experiments/depth.png]"""
import argparse
import csv
import hashlib
import re
from collections import defaultdict
from statistics import mean

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

EXPERIMENTS = {
    "depth": "Activation variance with depth, at initialisation",
    "similarity": "Similarity of different samples' features, at initialisation",
    "gradnorm": "Gradient norm per layer, at initialisation",
    "power": "Where the pre-activations' power sits, at initialisation",
    "groupsweep": "Training with GroupNorm of several group sizes",
    "landscape": "Loss landscape along the gradient step, during training",
    "ics": "Internal covariate shift, during training",
    "batchsweep": "Test error against batch size (same images seen, lr scaled with the batch)",
}
METRICS = {  # label, log scale
    "activation_variance": ("activation variance", True),
    "grad_norm": ("gradient norm of the layer's weight", True),
    "mean_cosine": ("mean cosine similarity between samples", False),
    "stable_rank": ("stable rank of the batch's features", False),
    "channel_constant": ("share of power constant per channel", False),
    "instance_constant": ("share of power constant per sample", False),
    "instance_varying": ("share of power varying within samples", False),
    "test_acc": ("test accuracy", False),
    "test_error": ("test error, %", False),
    "train_loss": ("training loss", True),
    "loss": ("training loss", False),
    "loss_variation": ("loss range along the step (max - min)", True),
    "grad_pred_max": ("largest gradient change along the step", True),
    "grad_pred_min": ("smallest gradient change along the step", True),
    "beta_smoothness": ("effective beta-smoothness", True),
    "ics_l2": ("covariate shift: ||G - G'|| (mean over layers)", True),
    "ics_cos": ("covariate shift: cos(G, G') (mean over layers)", False),
}
X_LABELS = {"groupsweep": "epoch", "landscape": "training step", "ics": "training step",
            "batchsweep": "images per batch (log scale)"}
# Rows that record an outcome, not a value (batchsweep: a normalizer refused the batch size, or
# the run diverged): drawn as markers on the panels of that normalizer, not as panels.
OUTCOMES = {"refused": ("x", "refused"), "diverged": ("v", "diverged")}
RESIDUALS = {"plain": "", "skipinit": "with SkipInit", "fixup": "with Fixup", "": ""}
NORM_COLOURS = {
    "bn": "#1f77b4", "none": "#222222", "ln": "#d62728", "in": "#9467bd", "noisybn": "#17becf",
    "frn": "#8c564b", "evos0": "#e377c2", "evob0": "#bcbd22", "sws": "#7f7f7f", "wn": "#ff7f0e",
    "ws": "#aec7e8", "pn": "#ff9896", "ln+ws": "#c49c94", "gbn": "#98df8a", "brn": "#c5b0d5",
}
GN_SHADES = ["#a1d99b", "#74c476", "#41ab5d", "#238b45", "#006d2c", "#00441b"]


def colour(norm):
    """The same colour for a normalizer in every figure."""
    if norm in NORM_COLOURS:
        return NORM_COLOURS[norm]
    base = norm.split(":")[0]
    m = re.match(r"gn:(group_size|groups)=(\d+)$", norm)
    if m:  # darker for larger groups (larger group size, fewer groups)
        size = int(m.group(2))
        rank = size.bit_length() - 1 if m.group(1) == "group_size" else 5 - (size.bit_length() - 1)
        return GN_SHADES[max(0, min(len(GN_SHADES) - 1, rank))]
    if base in NORM_COLOURS:
        return NORM_COLOURS[base]
    palette = plt.get_cmap("tab20").colors
    return palette[int(hashlib.md5(norm.encode()).hexdigest(), 16) % len(palette)]


def describe(norm):
    """Says what a GroupNorm parameter is: a group size or a count (they are easy to mix up)."""
    m = re.match(r"gn:group_size=(\d+)$", norm)
    if m:
        return f"gn, {m.group(1)} channel{'' if m.group(1) == '1' else 's'} per group"
    m = re.match(r"gn:groups=(\d+)$", norm)
    if m:
        return f"gn, {m.group(1)} groups"
    return norm


def main():
    p = argparse.ArgumentParser()
    p.add_argument("csv")
    p.add_argument("-o", "--output", help="default: the CSV's path with .png")
    a = p.parse_args()
    output = a.output or re.sub(r"\.csv$", "", a.csv) + ".png"
    # (metric, residual) -> norm -> index -> [values over seeds (and, for ics, layers)]
    series = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    seeds, experiment = set(), ""
    outcomes = defaultdict(list)  # (norm, residual) -> [(index, outcome)]
    for row in csv.DictReader(open(a.csv)):
        experiment = row["experiment"]
        seeds.add(row.get("seed", "0"))
        metric, value, residual = row["metric"], float(row["value"]), row.get("residual") or ""
        if metric in OUTCOMES:
            outcomes[(row["norm"], residual)].append((int(row["index"]), metric))
            continue
        if experiment == "batchsweep" and metric == "test_acc":  # the paper plots the error
            metric, value = "test_error", 100 * (1 - value)
        series[(metric, residual)][row["norm"]][int(row["index"])].append(value)

    panels = list(series.items())
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols + 2.2, 3.6 * rows), squeeze=False)
    handles = {}
    for ax, ((metric, residual), by_norm) in zip(axes.flat, panels):
        label, log = METRICS.get(metric, (metric.replace("_", " "), False))
        for norm, by_index in by_norm.items():
            xs = sorted(by_index)
            ys = [mean(by_index[x]) for x in xs]
            (line,) = ax.plot(xs, ys, marker=".", color=colour(norm), label=describe(norm))
            handles[describe(norm)] = line
            if len(seeds) > 1:
                ax.fill_between(xs, [min(by_index[x]) for x in xs], [max(by_index[x]) for x in xs],
                                color=colour(norm), alpha=0.2, linewidth=0)
        for (norm, res), marks in outcomes.items():
            if res != residual or norm not in by_norm and not marks:
                continue
            for index, outcome in marks:
                marker, word = OUTCOMES[outcome]
                ax.plot([index], [ax.get_ylim()[1]], marker=marker, color=colour(norm),
                        linestyle="none", clip_on=False)
                handles.setdefault(f"{word} (marker at the top)",
                                   plt.Line2D([], [], marker=marker, color="grey", linestyle="none"))
        if experiment == "batchsweep":
            ax.set_xscale("log", base=2)
        title = label + (f" ({RESIDUALS.get(residual, residual)})" if RESIDUALS.get(residual, residual) else "")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(X_LABELS.get(experiment, "layer, input to output"))
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    seed_note = f"; mean and min-max band over {len(seeds)} seeds" if len(seeds) > 1 else ""
    fig.suptitle(EXPERIMENTS.get(experiment, experiment) + seed_note, fontsize=11)
    fig.legend(handles.values(), handles.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5),
               fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(output, dpi=110, bbox_inches="tight")
    print("wrote", output)


if __name__ == "__main__":
    main()
