#!/usr/bin/env bash
# Builds the GPU check's binaries here, for sm_90, so that a device call can skip its three-minute
# build: bench/gpu/check.sh with CHECK_PREBUILT=1 runs them. Generic x86-64 code (no -march=native:
# the device machine's CPU is another) and libstdc++ linked in; cuBLAS/cuSPARSE/cudart stay shared
# (nvcc 13.0 here and there). Needs the headers of scripts/gather-device-deps.sh in .deps/.
# Usage, from the repository root: [DEVICE_BUILD=dir] bash scripts/build-for-device.sh [targets...]
# then carry build-device/bin (and .deps/fashion-mnist for the sweep; build-device/sweep_ckpt when
# it holds a checkpoint) and run `CHECK_PREBUILT=1 bash bench/gpu/check.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
deps=$PWD/.deps/usr
[[ -d "$deps/include/fmt" ]] || { echo "build-for-device: run scripts/gather-device-deps.sh first" >&2; exit 2; }
build=${DEVICE_BUILD:-build-device}  # the folder check.sh reads by default
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTUCKAT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DSTUCKAT_NATIVE=OFF \
  -DSTUCKAT_BLAS=OFF -DSTUCKAT_FMT_HEADER_ONLY=ON -DFMT_INCLUDE_DIR="$deps/include" \
  -DCMAKE_PREFIX_PATH="$deps" -DZLIB_INCLUDE_DIR="$deps/include" -DZLIB_LIBRARY="$deps/lib/libz.a" \
  -DCMAKE_EXE_LINKER_FLAGS="-static-libstdc++ -static-libgcc" -DSTUCKAT_TESTS=ON -DSTUCKAT_BENCH=ON > /dev/null
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=($(grep -l '\[cuda\]' tests/test_*.cpp | xargs -n1 basename | sed 's/\.cpp$//') stuckat bench_gpu_train)
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
du -sh "$build/bin"
