"""The leaderboard's tables and figures (scripts/leaderboard.py report): docs/results/
leaderboard.md and leaderboard.png from the committed metrics of every row, the notes a row's
numbers alone do not say, and the crop-fill study's docs/results/cropfill.md and .png."""
import json
import re
import subprocess
import sys

from leaderboard import (RECALIBRATE_IMAGES, ROOT, ZERO_FILL_RUNS, read_metrics, row_id,
                         spec_names)


# What a row's numbers alone do not say, printed under the table.
ROW_NOTES = {
    "cbn": "its test accuracy mid-training, read from the running statistics, swings between 17% "
           "and 59% while its training accuracy climbs smoothly; recomputed statistics put the "
           "same epochs at 55-78%. The cause is the authors' gradient, which treats the window "
           "as constants: with `cbn:window_grad=true` (the exact derivative) CBN trains like "
           "BatchNorm and reaches 83.41% in this recipe (docs/norms/cbn.md, \"Eval "
           "mid-training\"). The row keeps the authors' method.",
    "ws": "Weight Standardization alone: a standardized 3x3 filter over C input channels has "
          "sum(w^2) = 9C, so every convolution multiplies the activations' second moment by "
          "about 9C (144 at 16 channels) and nothing divides it back. At initialisation the "
          "activation variance grows 9.8e3x per block, to 9.7e35 at the last block (`probe depth "
          "--model resnet20 --norm ws --batch-size 64`, seed 0). WS is made to be paired with an "
          "activation normalizer: row `gn+ws:groups=8`.",
    "ws_residual_skipinit": "SkipInit zeroes the residual branches (variance growth 1.8x per "
                            "block at initialisation), but the branches' outputs are as large "
                            "as in plain `ws`: once the first steps move the gains alpha off "
                            "zero, the blocks overflow.",
    "sws": "Scaled WS makes every convolution variance-preserving whatever the init, so each "
           "residual block adds a branch as large as its input: at initialisation the variance "
           "grows 2.08x per block, to 340 at the last block (`probe depth --model resnet20 "
           "--norm sws --batch-size 64`); NF-ResNets scale their branches (alpha, beta) for this. "
           "The `none` row trains because PyTorch's default init starts each branch small "
           "(Var w = 1 / (3 fan-in)); with SkipInit the SWS growth is 0.98x per block.",
    "sbn": "trained data-parallel: `mpirun -np 2`, 64 images per rank, statistics pooled over "
           "the global batch of 128 (so the same mathematics as `bn`, other rounding). Its "
           "speed and memory are `bench` on one process, where SyncBatchNorm is BatchNorm; "
           "the cost of the statistics allreduce is in docs/distributed.md.",
}


def norm_families():
    """Each registered normalizer's family, short ("batch statistics", "per sample", ...), from
    the registry's list in docs/norms/index.md (generated from the registry, kept in step by the
    tests); the apps' experiments are not listed there."""
    families, family = {}, None
    index = (ROOT / "docs" / "norms" / "index.md").read_text()
    block = index[index.index("<!-- registry -->"):index.index("<!-- /registry -->")]
    for line in block.splitlines():
        if heading := re.fullmatch(r"\*(.+)\*", line.strip()):
            family = heading.group(1).split(" (")[0]
        elif entry := re.match(r"- \[`(\w+)`\]", line):
            families[entry.group(1)] = family
    return families


def family_of(spec, families):
    """A row's family; a compound spec's names its parts' (gn+ws: per sample + weight side)."""
    parts = [families.get(name, "experiments") for name in spec_names(spec)]
    return " + ".join(dict.fromkeys(parts))


def recalibrated_cell(path):
    if not path.exists():
        return "-"
    r = json.loads(path.read_text())
    return f"{100 * r['test_acc_recomputed']:.2f}%" if r["running_statistics"] else "n/a"


def row_note(row, status):
    """What the table cannot say about a row: its ROW_NOTES entry, and where and why it diverged
    (train's own message, from status.json)."""
    parts = [ROW_NOTES[row["row"]]] if row["row"] in ROW_NOTES else []
    if row["state"] == "diverged":
        why = status.get("last_line", "").removeprefix("train: ")
        parts.append(f"train: \"{why}\"" if why else "diverged (train exit 3)")
    return " ".join(parts)


def cmd_report(suite, _args):
    """docs/results/leaderboard.md and leaderboard.png from the committed metrics."""
    rows, families = [], norm_families()
    for spec, extra in suite.rows:
        rid = row_id(spec, extra)
        st = suite.status(rid)
        if st.get("state") not in ("done", "diverged"):
            continue
        m = read_metrics(suite.results / rid / "metrics.jsonl")
        rows.append({
            "row": rid, "spec": spec, "family": family_of(spec, families),
            "remedy": " ".join(extra) or "-", "state": st["state"],
            "final": m[-1]["test_acc"] if m and st["state"] == "done" else None,
            "recalibrated": recalibrated_cell(suite.results / rid / "recalibrated.json"),
            "best": max(x["test_acc"] for x in m) if m else None,
            # The command that trains the row from scratch (a resumed run's --resume left out).
            "command": st["command"].replace(" --resume OUT/checkpoint.safetensors", "")})
    rows.sort(key=lambda r: -(r["final"] if r["final"] is not None else -1))
    bench, bench_note = {}, "not measured yet (`python3 scripts/leaderboard.py bench`)"
    bench_file = suite.results / "throughput.jsonl"
    if bench_file.exists():
        for line in bench_file.read_text().splitlines():
            if line.strip():
                b = json.loads(line)
                bench[b["row"]] = b
                bench_note = (f"measured by `python3 scripts/leaderboard.py bench` on {b['date']} "
                              f"({b['cpu']}, best of {b['repeats']} passes of {b['iters']} steps)")
    lines = [
        "# Leaderboard: every normalizer, one recipe",
        "",
        "Generated by `python3 scripts/leaderboard.py report` from the committed metrics in",
        "`docs/results/leaderboard/<row>/`; `python3 scripts/leaderboard.py run` trains the rows",
        "still missing (resumable).",
        "",
        f"Budget: ResNet-20 (width 16) on the CIFAR-10 JPEG folder, all 50,000 training images for "
        f"{suite.epochs} epochs, batch 128, SGD + Nesterov 0.9, weight decay 5e-4 on all parameters, "
        "one-cycle to lr 0.1 (15% warm-up, linear), seed 0, one thread per run. One seed: "
        "differences of a few tenths of a point are within seed noise.",
        "",
        "Speed and memory: `bench` on each row's model (random data, batch 128, one thread), all "
        f"rows side by side in one sitting, {bench_note}. Training and inference images per "
        "second, and the process's peak resident memory in training. (The runs' own epoch times "
        "are not comparable across rows: they depend on what else the machine ran meanwhile.)",
        "",
        f"{len(rows)} of {len(suite.rows)} rows finished.",
        "",
        "Recomputed statistics: the final checkpoint's test accuracy after its running statistics "
        f"are recomputed as the plain average over {RECALIBRATE_IMAGES} training images (`evaluate "
        f"--recalibrate {RECALIBRATE_IMAGES}`, precise BN; `python3 scripts/leaderboard.py "
        "recalibrate`). Where it differs from the final test accuracy by more than seed noise, the "
        "running averages kept in training misrepresent the final weights. n/a: the model keeps no "
        "running statistics (asked of a throwaway checkpoint of the same model where the row's "
        "own is gone); -: not measured.",
        "",
        "| rank | normalizer | family | remedy | final test acc | recomputed statistics | best test acc | train img/s | inference img/s | peak RSS (train) | state |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        fin = f"{100 * r['final']:.2f}%" if r["final"] is not None else "-"
        best = f"{100 * r['best']:.2f}%" if r["best"] is not None else "-"
        b = bench.get(r["row"], {})
        train = f"{b['train_img_per_s']:.0f}" if b else "-"
        infer = f"{b['infer_img_per_s']:.0f}" if b else "-"
        peak = f"{b['peak_rss_mib']:.0f} MiB" if b else "-"
        lines.append(f"| {i} | `{r['spec']}` | {r['family']} | {r['remedy']} | {fin} | "
                     f"{r['recalibrated']} | "
                     f"{best} | {train} | "
                     f"{infer} | {peak} | {r['state']} |")
    notes = [row_note(r, suite.status(r["row"])) for r in rows]
    if any(notes):
        lines += ["", "## Notes", ""]
        lines += [f"- `{r['row']}`: {n}" for r, n in zip(rows, notes) if n]
    lines += ["", "## Commands", ""]
    for r in rows:
        lines.append(f"- `{r['row']}`: `{r['command']}`")
    missing = [row_id(s, e) for s, e in suite.rows if row_id(s, e) not in {r["row"] for r in rows}]
    if missing:
        lines += ["", "Not finished yet: " + ", ".join(f"`{m}`" for m in missing) + "."]
    (ROOT / "docs" / "results" / "leaderboard.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        done = [r for r in rows if r["final"] is not None and r["row"] in bench]
        if done:
            fig, ax = plt.subplots(figsize=(9, 5.5))
            colours = dict(zip(dict.fromkeys(r["family"] for r in done),
                               ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
                                "tab:brown", "tab:gray"]))
            for family, colour in colours.items():
                mine = [r for r in done if r["family"] == family]
                ax.scatter([bench[r["row"]]["train_img_per_s"] for r in mine],
                           [100 * r["final"] for r in mine], color=colour, label=family)
            # Labels of nearby points are stacked upwards (greedily, in data units: about one
            # label's height and width), with a thin line to their point.
            placed = []
            for r in sorted(done, key=lambda r: r["final"]):
                x, y = bench[r["row"]]["train_img_per_s"], 100 * r["final"]
                ly = y + 0.1
                while any(abs(x - px) < 55 and abs(ly - py) < 0.32 for px, py in placed):
                    ly += 0.32
                placed.append((x, ly))
                ax.annotate(r["row"], (x, y), xytext=(x + 4, ly), fontsize=7,
                            arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.5"}
                            if ly > y + 0.2 else None)
            ax.set_ylim(top=max(py for _, py in placed) + 0.6)
            ax.legend(fontsize=8, loc="lower left")
            ax.set_xlabel("training throughput, images per second (bench, 1 thread, batch 128)")
            ax.set_ylabel("final test accuracy (%)")
            ax.set_title(f"ResNet-20 on CIFAR-10, {suite.epochs} epochs: accuracy against speed")
            ax.grid(alpha=0.3)
            fig.tight_layout()
            fig.savefig(ROOT / "docs" / "results" / "leaderboard.png", dpi=120)
    except ImportError:
        print("matplotlib missing: table written, figure skipped", file=sys.stderr)
    print(f"wrote docs/results/leaderboard.md ({len(rows)} rows)")
    # The norm pages link to their leaderboard rows.
    subprocess.call([sys.executable, str(ROOT / "scripts" / "norm_page_links.py")])


def cmd_report_cropfill(suite, _args):
    """docs/results/cropfill.md: each mean-fill run beside its zero-fill run of docs/results.md."""
    lines = [
        "# Does the crop padding matter to per-sample normalizers?",
        "",
        "Generated by `python3 scripts/leaderboard.py report --suite cropfill` from the committed",
        "metrics in `docs/results/cropfill/<row>/` (mean fill) and `docs/results/<norm>.jsonl`",
        "(zero fill, the runs of docs/results.md). The standard recipe (30 epochs, seed 0); only",
        "`--crop-fill` differs.",
        "",
        "| normalizer | fill | final test acc | best test acc (epoch) | final train loss | epochs |",
        "|---|---|---|---|---|---|",
    ]
    curves = []
    for spec, extra in suite.rows:
        rid = row_id(spec, extra)
        for fill, path in (("zero", ROOT / "docs" / "results" / ZERO_FILL_RUNS[spec]),
                           ("mean", suite.results / rid / "metrics.jsonl")):
            m = read_metrics(path)
            if fill == "mean" and not suite.finished(rid):
                lines.append(f"| `{spec}` | {fill} | not finished ({len(m)}/{suite.epochs} epochs) "
                             "| - | - | - |")
                continue
            best = max(m, key=lambda x: x["test_acc"])
            lines.append(f"| `{spec}` | {fill} | {100 * m[-1]['test_acc']:.2f}% | "
                         f"{100 * best['test_acc']:.2f}% ({best['epoch']}) | "
                         f"{m[-1]['train_loss']:.4f} | {len(m)} |")
            curves.append((spec, fill, m))
    (ROOT / "docs" / "results" / "cropfill.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 5))
        colours = {"gn:groups=8": "tab:green", "ln": "tab:orange", "bn": "tab:blue"}
        for spec, fill, m in curves:
            ax.plot([x["epoch"] for x in m], [100 * x["test_acc"] for x in m],
                    color=colours[spec], linestyle="-" if fill == "zero" else "--",
                    label=f"{spec}, {fill} fill")
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(40, 90)
        ax.set_title("ResNet-20, standard recipe: zero (solid) against mean (dashed) crop fill")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(ROOT / "docs" / "results" / "cropfill.png", dpi=120)
    except ImportError:
        print("matplotlib missing: table written, figure skipped", file=sys.stderr)
    print("wrote docs/results/cropfill.md")
