#!/usr/bin/env bash
# clang-tidy over the library and the apps (needs build/compile_commands.json from a CMake build;
# apps/examples build against an installed normlab, so they have no entry there).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/compile_commands.json ] || cmake -S . -B build >/dev/null
git ls-files 'core/*.cpp' 'autograd/*.cpp' 'layers/*.cpp' 'data/*.cpp' 'apps/*.cpp' ':!apps/examples' | xargs -P "$(nproc)" -n 4 clang-tidy -p build --quiet
