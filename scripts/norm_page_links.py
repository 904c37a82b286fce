#!/usr/bin/env python3
"""Keeps the "Measured in" section of every docs/norms/<name>.md page in step with the data:
the experiments whose CSV (docs/experiments/*.csv) has a row for the normalizer (its base name
before ':' and '+', so gn:groups=8 counts for gn.md and ln+ws for ln.md and ws.md), the
leaderboard row (docs/results/leaderboard/<row>/) and the course unit that teaches it. The
section sits between <!-- measured-in --> markers at the end of the page.
Usage: python3 scripts/norm_page_links.py          rewrite the sections
       python3 scripts/norm_page_links.py --check  exit 1 if any page is out of date (CI)"""
import csv
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NORMS = ROOT / "docs" / "norms"
BEGIN, END = "<!-- measured-in -->", "<!-- /measured-in -->"
COURSE = {"bn": "04-batchnorm.md", "mbn": "04-batchnorm.md", "vn": "04-batchnorm.md",
          "gn": "05-group-norms.md", "ln": "05-group-norms.md", "in": "05-group-norms.md",
          "ws": "06-weight-side.md", "wn": "06-weight-side.md", "sws": "06-weight-side.md"}


def base_names(spec):
    return {re.split(r"[:]", part)[0] for part in spec.split("+")}


def experiments_by_norm():
    found = {}
    for path in sorted((ROOT / "docs" / "experiments").glob("*.csv")):
        page = re.sub(r"_lr\d+$|_vgg$", "", path.stem) + ".md"
        for row in csv.DictReader(path.open()):
            for name in base_names(row["norm"]):
                found.setdefault(name, set()).add(page)
    return found


def leaderboard_by_norm():
    found = {}
    for status in sorted((ROOT / "docs" / "results" / "leaderboard").glob("*/status.json")):
        spec = json.loads(status.read_text())["spec"]
        for name in base_names(spec):
            found.setdefault(name, []).append(spec)
    return found


def section(name, experiments, leaderboard):
    lines = [BEGIN, "## Measured in", ""]
    if name in experiments:
        links = ", ".join(f"[{p[:-3]}](../experiments/{p})" for p in sorted(experiments[name]))
        lines.append(f"- Experiments: {links}.")
    if name in leaderboard:
        specs = ", ".join(f"`{s}`" for s in leaderboard[name])
        lines.append(f"- The leaderboard ([results/leaderboard.md](../results/leaderboard.md)): {specs}.")
    if name in COURSE:
        lines.append(f"- Taught in [course unit {COURSE[name][:2].lstrip('0')}](../course/{COURSE[name]}).")
    if len(lines) == 3:
        lines.append("- No experiment or leaderboard row has measured it yet.")
    lines.append(END)
    return "\n".join(lines) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    experiments, leaderboard = experiments_by_norm(), leaderboard_by_norm()
    stale = []
    for page in sorted(NORMS.glob("*.md")):
        name = page.stem
        if name in ("index", "adding-a-norm", "weight-norms", "normalizer-free"):
            continue
        text = page.read_text()
        kept = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", "", text, flags=re.S)
        updated = kept.rstrip("\n") + "\n\n" + section(name, experiments, leaderboard)
        if updated != text:
            stale.append(page.relative_to(ROOT))
            if not check:
                page.write_text(updated)
    if check and stale:
        print("out of date (run python3 scripts/norm_page_links.py):", *stale, sep="\n  ")
        return 1
    print(f"norm_page_links: {len(stale)} page(s) {'out of date' if check else 'updated'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
