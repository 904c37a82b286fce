#!/usr/bin/env bash
# Installs normlab's build dependencies from Debian's archive (sudo when not root).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# python3-matplotlib draws the figures (scripts/plot_*.py, the course's experiment exercises).
# libopenmpi-dev + openmpi-bin: data-parallel training under mpirun (optional for the build).
PACKAGES="build-essential cmake libopenblas-dev libtbb-dev libstb-dev doctest-dev libcli11-dev nlohmann-json3-dev python3-matplotlib libopenmpi-dev openmpi-bin"
if ! dpkg -s $PACKAGES >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $PACKAGES
fi
