#!/usr/bin/env bash
# stuckat against PyTorch: safetensors files both ways (scripts/safetensors_interop.py), every
# built-in model's logits for PyTorch's weights and inputs (scripts/pytorch_models_interop.py), and
# ONNX import/export against torch.onnx.export, onnx.checker and onnxruntime (scripts/onnx_interop.py).
# Needs Debian's python3-torch and the safetensors package (scripts/install-bench-deps.sh);
# without them the test is skipped (exit 77), unless STUCKAT_REQUIRE_PYTORCH=1 (CI sets it).
# Usage: pytorch_interop.sh path/to/test_io path/to/test_models path/to/stuckat
set -u
root="$(dirname "$0")/.."
py=/usr/bin/python3
if ! "$py" -c "import torch, torchvision, safetensors, onnx, onnxruntime" 2>/dev/null; then
  if [ "${STUCKAT_REQUIRE_PYTORCH:-0}" = 1 ]; then
    echo "pytorch_interop: STUCKAT_REQUIRE_PYTORCH=1 but $py cannot import torch, torchvision, safetensors, onnx and onnxruntime" >&2
    exit 1
  fi
  echo "pytorch_interop: skipped ($py cannot import torch, torchvision, safetensors, onnx or onnxruntime; scripts/install-bench-deps.sh installs them)"
  exit 77
fi
"$py" "$root/scripts/safetensors_interop.py" --test-binary "$1" || exit 1
"$py" "$root/scripts/pytorch_models_interop.py" --test-binary "$2" || exit 1
"$py" "$root/scripts/onnx_interop.py" --stuckat "$3" || exit 1
