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
expect "bad weight init" "--weight-init" -- "$bin" train --data synthetic --weight-init xavier --out "$tmp/r"
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

# Hostile input: sizes are checked before they are used, nothing is trusted, nothing is left behind.
ck="$tmp/run/checkpoint.safetensors"
expect "threads past the cap" "--threads" -- "$bin" eval --checkpoint "$ck" "${syn[@]}" --threads 100000
expect "xbar threads past the cap" "--threads" -- "$bin" xbar --checkpoint "$ck" --threads 100000
expect "unknown command" "simulate" -- "$bin" simulate
expect "no command" "expected one of" -- "$bin"
expect "seed list past the cap" "--seeds" -- timeout 20 "$bin" sweep --checkpoint "$ck" "${syn[@]}" --out "$tmp/big.csv" \
  --seeds 0-999999999999 --max-points 1
expect "grid past the cap" "grid" -- timeout 20 "$bin" sweep --checkpoint "$ck" "${syn[@]}" --out "$tmp/big.csv" \
  --seeds 0-999999 --bits 0-15 --layers all
npy() {  # npy FILE SHAPE DATA_BYTES: a float32 .npy with that header and that many zero bytes
  python3 -c "import struct,sys
h=(\"{'descr': '<f4', 'fortran_order': False, 'shape': %s, }\" % sys.argv[2]).encode()
h += b' ' * (63 - len(h) % 64) + b'\n'
open(sys.argv[1], 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h + bytes(int(sys.argv[3])))" "$@"
}
npy "$tmp/long.npy" "(99999999999999999999, 20)" 2400
expect ".npy shape too long to parse" "long.npy" -- "$bin" xbar --matrix "$tmp/long.npy"
npy "$tmp/lie.npy" "(100000, 30000)" 2400
expect ".npy shape larger than its data" "lie.npy" -- "$bin" xbar --matrix "$tmp/lie.npy"
printf '\x93NUMPY\x02\x00\xff\xff\xff\xff' >"$tmp/hdr.npy"  # a 4 GB header length (version 2)
expect ".npy header length of 4 GB" "hdr.npy" -- "$bin" xbar --matrix "$tmp/hdr.npy"
npy "$tmp/max.npy" "(2147483647, 2147483647)" 2400
expect ".npy 2^31-1 square" "max.npy" -- "$bin" xbar --matrix "$tmp/max.npy"
printf '%%%%MatrixMarket matrix coordinate real general\n2147483647 2147483647 1\n1 1 1.0\n' >"$tmp/huge.mtx"
expect ".mtx 2^31-1 square, one nonzero" "--max-dim" -- "$bin" xbar --matrix "$tmp/huge.mtx"
printf '%%%%MatrixMarket matrix coordinate real general\n100000000 100000000 1\n1 1 1.0\n' >"$tmp/wide.mtx"
expect ".mtx 1e8 square, one nonzero" "--max-dim" -- timeout 20 "$bin" xbar --matrix "$tmp/wide.mtx" --size 8
expect "bad --max-dim" "--max-dim" -- "$bin" xbar --matrix "$tmp/wide.mtx" --max-dim 0
# Empty test sets: refused, not evaluated to an accuracy of 0.
mkdir -p "$tmp/empty"
printf '\x00\x00\x08\x01\x00\x00\x00\x00' >"$tmp/empty/t10k-labels-idx1-ubyte"
printf '\x00\x00\x08\x03\x00\x00\x00\x00\x00\x00\x00\x1c\x00\x00\x00\x1c' >"$tmp/empty/t10k-images-idx3-ubyte"
expect "eval on an empty IDX test set" "no images" -- "$bin" eval --checkpoint "$ck" --data mnist --data-dir "$tmp/empty"
expect "sweep on an empty IDX test set" "no images" -- "$bin" sweep --checkpoint "$ck" --data mnist \
  --data-dir "$tmp/empty" --out "$tmp/empty.csv"
[ ! -s "$tmp/empty.csv" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: an empty test set left $tmp/empty.csv"; }
mkdir -p "$tmp/cifar0"
: >"$tmp/cifar0/test_batch.bin"
expect "eval on an empty CIFAR test batch" "no images" -- "$bin" eval --checkpoint "$ck" --data cifar10 \
  --data-dir "$tmp/cifar0"
# Checkpoint metadata that lies: named with its file and key, not blamed on a flag.
meta() {  # meta IN OUT KEY VALUE: a copy of IN with metadata KEY set to VALUE
  python3 -c "import json,struct,sys
b=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n])
h.setdefault('__metadata__',{})[sys.argv[3]]=sys.argv[4]
t=json.dumps(h).encode(); t+=b' '*(-len(t)%8)
open(sys.argv[2],'wb').write(struct.pack('<Q',len(t))+t+b[8+n:])" "$@"
}
meta "$ck" "$tmp/qq.safetensors" quant qq
meta "$ck" "$tmp/q99.safetensors" quant q99.99
expect "metadata quant qq (eval)" "'quant'" -- "$bin" eval --checkpoint "$tmp/qq.safetensors" "${syn[@]}"
expect "metadata quant qq (eval --faults)" "qq.safetensors" -- "$bin" eval --checkpoint "$tmp/qq.safetensors" "${syn[@]}" \
  --faults layer=conv2,bit=3,stuck=1,rate=0.1
expect "metadata quant q99.99 (xbar)" "'quant'" -- "$bin" xbar --checkpoint "$tmp/q99.safetensors"
expect "metadata quant qq (prune)" "'quant'" -- "$bin" prune --checkpoint "$tmp/qq.safetensors" --method oneshot \
  --density 0.5 "${syn[@]}" --out "$tmp/pq"
# metrics.jsonl with a value that is not a number.
printf '{"epoch":1,"test_acc":0.5}\n{"epoch":2,"test_acc":"high"}\n' >"$tmp/metrics.jsonl"
expect "plot a non-number" "line 2" -- "$bin" plot "$tmp/metrics.jsonl" --key test_acc --out "$tmp/m.png"
# A run whose metrics.jsonl was edited: --resume refuses it naming the file and line.
cp -r "$tmp/run" "$tmp/run_m"
printf '{"epoch":"one","test_acc":0.5}\n' >"$tmp/run_m/metrics.jsonl"
expect "resume with a non-integer epoch in metrics.jsonl" "metrics.jsonl line 1" -- "$bin" train --model lenet5 \
  --data synthetic --limit-train 64 --limit-test 64 --epochs 2 --out "$tmp/run_m" --resume
printf '{"epoch":1}\n{"epoch":1e300}\n' >"$tmp/run_m/metrics.jsonl"
expect "resume with epoch 1e300 in metrics.jsonl" "metrics.jsonl line 2" -- "$bin" train --model lenet5 \
  --data synthetic --limit-train 64 --limit-test 64 --epochs 2 --out "$tmp/run_m" --resume
# A sweep CSV edited by hand: refused on --resume, naming the line.
"$bin" sweep --checkpoint "$ck" "${syn[@]}" --layers conv1 --bits 14,15 --stuck 1 --out "$tmp/ok.csv" >/dev/null 2>&1 ||
  { echo "FAIL: the fixture sweep"; fail=$((fail + 1)); }
edited() {  # edited NAME SED: a copy of ok.csv changed by SED, resumed: refused naming the file
  sed "$2" "$tmp/ok.csv" >"$tmp/$1.csv"
  expect "resume a CSV with $1" "$1.csv" -- "$bin" sweep --checkpoint "$ck" "${syn[@]}" --layers conv1 --bits 14,15 \
    --stuck 1 --out "$tmp/$1.csv" --resume
}
edited dup '3p'                                            # line 3 repeated
edited nan_acc '3s/^\(\([^,]*,\)\{10\}\)[^,]*/\1nan/'      # test_acc = nan
edited neg_loss '3s/^\(\([^,]*,\)\{11\}\)[^,]*/\1-1/'      # test_loss = -1
# ONNX models and export.
printf 'not an onnx model' >"$tmp/bad.onnx"
expect "eval a non-ONNX .onnx" "bad.onnx" -- "$bin" eval --checkpoint "$tmp/bad.onnx" "${syn[@]}"
expect "train --model a missing .onnx" "absent.onnx" -- "$bin" train --model "$tmp/absent.onnx" "${syn[@]}" --out "$tmp/ro"
expect "export without .onnx suffix" "--onnx" -- "$bin" export --checkpoint "$ck" --onnx "$tmp/model.bin"
expect "export faults without quant" "--quant" -- "$bin" export --checkpoint "$ck" --onnx "$tmp/f.onnx" \
  --faults layer=conv2,bit=3,stuck=1,rate=0.1
expect "export into a directory" "adir2" -- bash -c "mkdir -p '$tmp/adir2.onnx' && '$bin' export --checkpoint '$ck' --onnx '$tmp/adir2.onnx'"
expect "--normalize with 3 values" "--normalize" -- "$bin" eval --checkpoint "$ck" --data fashion-mnist --limit-test 8 \
  --normalize 0.5,0.2,0.1
expect "--normalize std 0" "--normalize" -- "$bin" eval --checkpoint "$ck" --data fashion-mnist --limit-test 8 \
  --normalize 0.5,0
expect "--normalize on synthetic" "--normalize" -- "$bin" eval --checkpoint "$ck" "${syn[@]}" --normalize 0.5,0.2
# A failed final rename (the output path is a directory) leaves no temporary file behind.
mkdir -p "$tmp/adir"
expect "prune --json into a directory" "adir" -- "$bin" prune --checkpoint "$ck" --method oneshot --density 0.5 "${syn[@]}" \
  --out "$tmp/pj" --json "$tmp/adir"
[ ! -e "$tmp/adir.tmp" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: $tmp/adir.tmp left behind"; }

echo "cli_errors: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
