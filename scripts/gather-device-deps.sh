#!/usr/bin/env bash
# Copies the third-party headers (and static zlib) that the build needs into .deps/usr, laid out
# like /usr so their CMake package files still find themselves, for the GPU check machine that
# has nvcc, CMake and PyTorch but no Debian packages and no network (bench/gpu/check.sh).
# fmt is used header-only there and the CPU GEMM is the built-in one (no BLIS), so nothing
# large travels: about 7 MiB, plus Fashion-MNIST (30 MiB, Debian's dataset-fashion-mnist) for the
# GPU sweep benchmark. Run from the repository root on a machine with the -dev packages.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.deps/usr
rm -rf .deps
mkdir -p "$dest/include" "$dest/lib/cmake" "$dest/share/cmake"
need() { [[ -e "$1" ]] || { echo "gather-device-deps: $1 is missing (install the Debian -dev package)" >&2; exit 1; }; }
for d in fmt CLI nlohmann catch2 stb; do need "/usr/include/$d"; cp -r "/usr/include/$d" "$dest/include/"; done
for f in zlib.h zconf.h; do need "/usr/include/$f"; cp "/usr/include/$f" "$dest/include/"; done
need /usr/lib/x86_64-linux-gnu/libz.a
cp /usr/lib/x86_64-linux-gnu/libz.a "$dest/lib/"
need /usr/lib/cmake/Catch2
cp -r /usr/lib/cmake/Catch2 "$dest/lib/cmake/"
cp /usr/lib/libCatch2WithMain.a "$dest/lib/"  # referenced by Catch2's package files (our tests have their own main)
for d in CLI11 nlohmann_json; do need "/usr/share/cmake/$d"; cp -r "/usr/share/cmake/$d" "$dest/share/cmake/"; done
data=/usr/share/datasets/fashion-mnist
for f in t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz; do
  need "$data/$f"
  mkdir -p .deps/fashion-mnist
  cp "$data/$f" .deps/fashion-mnist/
done
du -sh .deps
