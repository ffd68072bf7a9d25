#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the default data need, plus any package
# named as an argument.
# The benchmarks' extra packages (PyTorch, scipy) are in scripts/install-bench-deps.sh.
set -euo pipefail
pkgs=(cmake g++ make libfmt-dev catch2 zlib1g-dev nlohmann-json3-dev libcli11-dev libblis-openmp-dev
      libomp-dev libstb-dev dataset-fashion-mnist python3 libonnx-dev libprotobuf-dev libonnx-testdata
      openmpi-bin libopenmpi-dev)  # libstb-dev: PNG charts (stb_image_write, stb_easy_font);
      # python3 (standard library only): the main job's report; libonnx-dev, libprotobuf-dev: ONNX
      # import/export; libonnx-testdata: the ONNX conformance cases the tests run; openmpi-bin,
      # libopenmpi-dev: distributed sweeps, grids and training (mpirun)
pkgs+=("$@")  # extra packages a caller needs (scripts/install-fuzz-deps.sh)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
