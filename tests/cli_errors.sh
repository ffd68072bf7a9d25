#!/usr/bin/env bash
# Bad input to bin/stuckat: each case must exit 2 with exactly one line on stderr that names
# the offending file or flag. Usage: cli_errors.sh path/to/stuckat
set -u
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# shellcheck source=cli_expect.sh
source "$(dirname "$0")/cli_expect.sh"

# Data files.
mkdir -p "$tmp/mnist" "$tmp/cifar"
labels() { printf '\x00\x00\x08\x01\x00\x00\x00\x02\x03\x07' >"$1"; }  # 2 valid labels
labels "$tmp/mnist/train-labels-idx1-ubyte"
labels "$tmp/mnist/t10k-labels-idx1-ubyte"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c' >"$tmp/mnist/t10k-images-idx3-ubyte"
head -c 1568 /dev/zero >>"$tmp/mnist/t10k-images-idx3-ubyte"  # a valid 2-image test file
printf 'not an idx file at all' >"$tmp/mnist/train-images-idx3-ubyte"
expect "wrong-magic IDX" "train-images-idx3-ubyte" -- "$bin" train --data mnist --data-dir "$tmp/mnist" --out "$tmp/r"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c\x00\x01' >"$tmp/mnist/train-images-idx3-ubyte"
expect "truncated IDX" "train-images-idx3-ubyte" -- "$bin" train --data mnist --data-dir "$tmp/mnist" --out "$tmp/r"
expect "mnist without dir" "--data-dir" -- "$bin" train --data mnist --out "$tmp/r"
head -c 3074 /dev/zero >"$tmp/cifar/data_batch_1.bin"
for f in 2 3 4 5; do head -c 3073 /dev/zero >"$tmp/cifar/data_batch_$f.bin"; done
head -c 3073 /dev/zero >"$tmp/cifar/test_batch.bin"
expect "CIFAR size" "data_batch_1.bin" -- "$bin" train --model vgg11 --data cifar10 --data-dir "$tmp/cifar" --out "$tmp/r"
expect "unknown data" "imagenet" -- "$bin" train --data imagenet --out "$tmp/r"
expect "unknown model" "lenet7" -- "$bin" train --model lenet7 --data synthetic --out "$tmp/r"
expect "model/data shapes" "--resize 32 --channels 3" -- "$bin" train --model vgg11 --data synthetic --out "$tmp/r"
expect "bad device" "--device" -- "$bin" train --data synthetic --device tpu --out "$tmp/r"
expect "bad batch" "--batch" -- "$bin" train --data synthetic --batch 0 --out "$tmp/r"
expect "unknown flag" "--frobnicate" -- "$bin" train --frobnicate

# Checkpoints.
printf '\x10\x00\x00\x00\x00\x00\x00\x00{not json at all' >"$tmp/bad.safetensors"
expect "header not JSON" "bad.safetensors" -- "$bin" eval --checkpoint "$tmp/bad.safetensors" --data synthetic
expect "missing checkpoint" "nothere.safetensors" -- "$bin" eval --checkpoint "$tmp/nothere.safetensors" --data synthetic
"$bin" train --model lenet5 --data synthetic --limit-train 64 --limit-test 64 --epochs 1 --out "$tmp/run" >/dev/null 2>&1 ||
  { echo "FAIL: training the fixture checkpoint"; fail=$((fail + 1)); }
expect "checkpoint of another model" "vgg11" -- "$bin" eval --checkpoint "$tmp/run/checkpoint.safetensors" --model vgg11 \
  --data synthetic --resize 32 --channels 3

# Fault-aware training and fault injection.
syn=(--data synthetic --limit-train 64 --limit-test 64)
expect "fault bit 16" "bit" -- "$bin" train "${syn[@]}" --out "$tmp/r" --faults layer=conv2,bit=16,stuck=1,rate=0.01
expect "fault rate 1.5" "rate" -- "$bin" train "${syn[@]}" --out "$tmp/r" --faults layer=conv2,bit=3,stuck=1,rate=1.5
expect "unknown fault layer" "conv9" -- "$bin" train "${syn[@]}" --out "$tmp/r" --faults layer=conv9,bit=3,stuck=1,rate=0.1
expect "malformed fault spec" "--faults" -- "$bin" train "${syn[@]}" --out "$tmp/r" --faults "layer=conv2;bit=3"
expect "unknown fault mode" "--fault-mode" -- "$bin" train "${syn[@]}" --out "$tmp/r" --faults layer=conv2,bit=3,stuck=1,rate=0.1 \
  --fault-mode freeze
expect "faults with quant none" "--quant" -- "$bin" train "${syn[@]}" --out "$tmp/r" --quant none \
  --faults layer=conv2,bit=3,stuck=1,rate=0.1
expect "negative clip bound" "--clip-bound" -- "$bin" train "${syn[@]}" --out "$tmp/r" --fault-mode clip --clip-bound -1 \
  --faults layer=conv2,bit=3,stuck=1,rate=0.1
expect "bad histogram schedule" "--histograms" -- "$bin" train "${syn[@]}" --out "$tmp/r" --histograms weekly
expect "eval faults without quantization" "records no quantization" -- "$bin" eval \
  --checkpoint "$tmp/run/checkpoint.safetensors" "${syn[@]}" --faults layer=conv2,bit=3,stuck=1,rate=0.1
expect "eval unknown fault layer" "conv9" -- "$bin" eval --checkpoint "$tmp/run/checkpoint.safetensors" "${syn[@]}" \
  --quant q4.11 --faults layer=conv9,bit=3,stuck=1,rate=0.1
expect "fault mode without faults" "--fault-mode" -- "$bin" train "${syn[@]}" --out "$tmp/fm" --fault-mode zero
expect "clip bound without clip mode" "--clip-bound" -- "$bin" train "${syn[@]}" --out "$tmp/cb" \
  --faults layer=conv2,bit=15,stuck=1,rate=0.01 --fault-mode keep_bit --clip-bound 0.5
expect "sweep format" "--formats" -- "$bin" sweep --checkpoint "$tmp/run/checkpoint.safetensors" "${syn[@]}" \
  --out "$tmp/sw.csv" --formats q9.9

echo "cli_errors: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
