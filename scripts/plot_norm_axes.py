"""Draws which (sample, channel) planes of an (N, C, H, W) activation share one mean and
variance under each normalizer, the picture of Wu & He's GroupNorm paper (Fig. 2) flattened:
all four pool every position (H, W) of a plane, so a cell is a whole H x W plane. The dark
cells are the planes of one statistic; the outlines show how the others tile the batch.
Usage: /usr/bin/python3 scripts/plot_norm_axes.py -o docs/norms/figures/pooled-axes.png"""
import argparse
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

p = argparse.ArgumentParser()
p.add_argument("-o", "--output", required=True)
a = p.parse_args()

N, C, G = 4, 6, 2  # samples, channels, GroupNorm groups
# statistic(n, c) -> which statistic plane (n, c) belongs to
panels = [
    ("BatchNorm", "one channel, all samples", lambda n, c: c),
    ("LayerNorm", "one sample, all channels", lambda n, c: n),
    ("InstanceNorm", "one sample, one channel", lambda n, c: (n, c)),
    (f"GroupNorm, G = {G}", f"one sample, C/G = {C // G} channels", lambda n, c: (n, c // (C // G))),
]
fig, axes = plt.subplots(1, len(panels), figsize=(12, 3.6))
for ax, (name, pooled, statistic) in zip(axes, panels):
    shown = statistic(1, 1)  # the statistic drawn dark
    for n in range(N):
        for c in range(C):
            dark = statistic(n, c) == shown
            ax.add_patch(Rectangle((n, c), 1, 1, facecolor="#2f6db5" if dark else "#e6e6e6",
                                   edgecolor="white", linewidth=1.5))
    # Outline every statistic's cells, so the tiling of the batch is visible.
    for n in range(N):
        for c in range(C):
            s = statistic(n, c)
            if n == 0 or statistic(n - 1, c) != s:
                ax.plot([n, n], [c, c + 1], color="black", linewidth=1.2)
            if n == N - 1 or statistic(n + 1, c) != s:
                ax.plot([n + 1, n + 1], [c, c + 1], color="black", linewidth=1.2)
            if c == 0 or statistic(n, c - 1) != s:
                ax.plot([n, n + 1], [c, c], color="black", linewidth=1.2)
            if c == C - 1 or statistic(n, c + 1) != s:
                ax.plot([n, n + 1], [c + 1, c + 1], color="black", linewidth=1.2)
    ax.set_xlim(-0.1, N + 0.1); ax.set_ylim(C + 0.1, -0.1)
    ax.set_aspect("equal")
    ax.set_xticks([i + 0.5 for i in range(N)], [str(i) for i in range(N)])
    ax.set_yticks([i + 0.5 for i in range(C)], [str(i) for i in range(C)])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_xlabel("sample n")
    ax.set_ylabel("channel c")
    ax.set_title(f"{name}\n{pooled}", fontsize=10)
fig.suptitle("(sample, channel) planes, each of H x W positions, that share one mean and variance:\n"
             "dark = one statistic, outlines = how the others tile the batch",
             fontsize=11)
fig.tight_layout()
fig.savefig(a.output, dpi=110)
print("wrote", a.output)
