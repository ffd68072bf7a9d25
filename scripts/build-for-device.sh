#!/usr/bin/env bash
# Builds the GPU check's binaries here, for sm_90, so that a device call can skip its three-minute
# build: bench/gpu/check.sh with CHECK_PREBUILT=1 runs them. Generic x86-64 code (no -march=native:
# the device machine's CPU is another) and libstdc++ linked in; cuSPARSE/cudart stay shared and
# cuBLAS is opened on first use (libcublas.so.13 by the loader's search; nvcc 13.0 here and
# there). Needs the headers of scripts/gather-device-deps.sh in .deps/.
# Usage, from the repository root: [DEVICE_BUILD=dir] bash scripts/build-for-device.sh [targets...]
# (default targets: every [cuda] test program, stuckat, bench_gpu_train, bench_crossbar). It trains
# the sweep benchmark's checkpoint once (the sweep section's training split is not carried),
# stages the stripped binaries and the checkpoint in <dir>/device, and prints what to carry and
# the command to run (`CHECK_PREBUILT=1 bash bench/gpu/check.sh <dir>/device`).
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
[[ ${#targets[@]} -gt 0 ]] || targets=($(grep -l '\[cuda\]' tests/test_*.cpp | xargs -n1 basename | sed 's/\.cpp$//') stuckat bench_gpu_train bench_crossbar)
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
# The sweep benchmark's checkpoint (LeNet-5 after one epoch), trained here on the CPU once.
ckpt=$build/sweep_ckpt/checkpoint.safetensors
if [[ -x "$build/bin/stuckat" && ! -f "$ckpt" && -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  "$build/bin/stuckat" train --model lenet5 --epochs 1 --out "$build/sweep_ckpt" > "$build/sweep_ckpt.log" 2>&1 \
    || echo "build-for-device: training the sweep checkpoint failed (see $build/sweep_ckpt.log)" >&2
fi
# What to carry (64 MiB in all, 8 paths at most): one folder with the binaries, stripped, and the
# checkpoint, and the test images (sweep and eval read only those).
stage=$build/device
rm -rf "$stage"
mkdir -p "$stage/bin"
for t in "${targets[@]}"; do
  [[ -f "$build/bin/$t" ]] && strip -o "$stage/bin/$t" "$build/bin/$t"
done
[[ -f "$ckpt" ]] && cp -r "$build/sweep_ckpt" "$stage/"
carry=("$stage" .deps/fashion-mnist/t10k-images-idx3-ubyte.gz .deps/fashion-mnist/t10k-labels-idx1-ubyte.gz)
du -shc "${carry[@]}" | tail -1
printf 'carry: ['; printf '"%s", ' "${carry[@]}" | sed 's/, $//'; printf ']\n'
echo "then: CHECK_PREBUILT=1 CHECK_SECTIONS=\"tests smoke sweep sweepprobe\" bash bench/gpu/check.sh $stage"
