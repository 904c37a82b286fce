#!/usr/bin/env python3
"""Checks that every link in the docs and every docs/ path named in code points at a file of
this repository: markdown links in README.md and docs/ (relative ones must exist and stay inside
the repository, so no ../shared/...), and docs/<...>.md|png|csv paths mentioned in sources,
scripts and CMake files. Prints each broken link with its file and line; exits 1 if any.
Usage: python3 scripts/check_links.py"""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOCS_PATH = re.compile(r"(?<![\w/.])(docs/[A-Za-z0-9_./-]+\.(?:md|png|csv|jsonl))")


def tracked(*patterns):
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True)
    return [ROOT / p for p in out.stdout.split()]


def main():
    broken = []
    for md in tracked("README.md", "docs/*.md", "docs/**/*.md"):
        for no, line in enumerate(md.read_text().splitlines(), 1):
            for target in MD_LINK.findall(line):
                if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                    continue
                path = (md.parent / target.split("#")[0]).resolve()
                if ROOT not in path.parents and path != ROOT:
                    broken.append(f"{md.relative_to(ROOT)}:{no}: {target} points outside the repository")
                elif not path.exists():
                    broken.append(f"{md.relative_to(ROOT)}:{no}: {target} does not exist")
    for src in tracked("*.cpp", "*.hpp", "*.py", "*.sh", "*CMakeLists.txt", "*.cmake", "*.in",
                       "README.md", "docs/*.md", "docs/**/*.md"):
        for no, line in enumerate(src.read_text(errors="replace").splitlines(), 1):
            if "shared/reference" in line and src.name != "check_links.py":
                broken.append(f"{src.relative_to(ROOT)}:{no}: cites ../shared/reference, which "
                              "is not part of the repository (cite the paper instead)")
            for target in DOCS_PATH.findall(line):
                if not (ROOT / target.rstrip(".")).exists():
                    broken.append(f"{src.relative_to(ROOT)}:{no}: {target} does not exist")
    for b in broken:
        print(b)
    print(f"check_links: {len(broken)} broken link(s)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
