#!/usr/bin/env bash
# Set-up command 1: install dependencies, build, and run the main job (a few minutes of
# ResNet-20 training on CIFAR-10; extra arguments go to apps/train).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)" --target train
./build/apps/train "$@"
