#!/usr/bin/env bash
# Installs the benchmark anchors: Debian's PyTorch (CPU) and scipy. Not needed for tests or CI.
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-torch python3-scipy python3-numpy
