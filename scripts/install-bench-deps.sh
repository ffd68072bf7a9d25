#!/usr/bin/env bash
# Installs the anchors: Debian's PyTorch (CPU), scipy, and the safetensors package from PyPI. The
# benchmarks need them, and so does the `pytorch_interop` test (skipped without them; CI installs them).
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-torch python3-scipy python3-numpy
# The reference safetensors implementation (not packaged by Debian), for Debian's python3.
$SUDO /usr/bin/python3 -m pip install -q --break-system-packages safetensors
