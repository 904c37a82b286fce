#!/usr/bin/env bash
# clang-tidy over the library sources (needs build/compile_commands.json from a CMake build).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/compile_commands.json ] || cmake -S . -B build >/dev/null
git ls-files 'core/*.cpp' 'autograd/*.cpp' 'layers/*.cpp' 'data/*.cpp' | xargs -P "$(nproc)" -n 4 clang-tidy -p build --quiet
