"""Plots test accuracy (and train loss) per epoch from one or more metrics.jsonl files; a run of
`train --recalibrate N` also gets its accuracy with recomputed running statistics (dashed), and
--train-acc adds the training accuracy (dotted).
Usage: python3 scripts/plot_metrics.py docs/results/bn.jsonl ... -o docs/results/curves.png"""
import argparse, json, os
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

p = argparse.ArgumentParser()
p.add_argument("files", nargs="+"); p.add_argument("-o", "--output", required=True)
p.add_argument("--train-acc", action="store_true", help="also plot the training accuracy")
p.add_argument("--title", default="CIFAR-10, ResNet-20")
a = p.parse_args()
fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
for f in a.files:
    rows = [json.loads(l) for l in open(f) if l.strip()]
    label = os.path.splitext(os.path.basename(f))[0]
    ep = [r["epoch"] for r in rows]
    line, = acc_ax.plot(ep, [100 * r["test_acc"] for r in rows], marker="o", ms=3, label=label)
    if all("test_acc_recalibrated" in r for r in rows):
        acc_ax.plot(ep, [100 * r["test_acc_recalibrated"] for r in rows], marker="o", ms=3,
                    ls="--", color=line.get_color(), label=label + ", recomputed statistics")
    if a.train_acc:
        acc_ax.plot(ep, [100 * r["train_acc"] for r in rows], ls=":", color=line.get_color(),
                    label=label + ", training accuracy")
    loss_ax.plot(ep, [r["train_loss"] for r in rows], color=line.get_color(), label=label + " train")
    loss_ax.plot(ep, [r["test_loss"] for r in rows], ls="--", color=line.get_color(),
                 label=label + " test")
acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title=a.title); acc_ax.grid(alpha=.3)
loss_ax.set(xlabel="epoch", ylabel="loss", yscale="log"); loss_ax.grid(alpha=.3)
acc_ax.legend(fontsize=8); loss_ax.legend(fontsize=8)
fig.tight_layout(); fig.savefig(a.output, dpi=110)
print("wrote", a.output)
