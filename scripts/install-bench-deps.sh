#!/usr/bin/env bash
# Installs the anchors: Debian's PyTorch (CPU), torchvision, onnx, scipy and oneDNN, and
# safetensors and onnxruntime from PyPI. The benchmarks need them, and so does the
# `pytorch_interop` test (skipped without them; CI installs them).
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-torch python3-torchvision python3-onnx python3-scipy python3-numpy libdnnl-dev
# The reference safetensors implementation and onnxruntime (not packaged by Debian), for Debian's
# python3; onnxruntime without its optional dependencies (Debian's numpy and protobuf serve).
$SUDO /usr/bin/python3 -m pip install -q --break-system-packages safetensors==0.8.0
$SUDO /usr/bin/python3 -m pip install -q --break-system-packages --no-deps onnxruntime==1.32.0
