#!/usr/bin/env bash
# ONNX end to end without PyTorch: a built-in LeNet-5 exported with `stuckat export` and used as
# `--checkpoint lenet5.onnx` gives the built-in model's evaluation and fault sweep, number for
# number (the sweep through its stages and delta paths); `train --model F.onnx` writes a
# checkpoint that records the graph, which `eval` reads without the .onnx file.
# Usage: cli_onnx.sh path/to/stuckat
set -u
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() {  # check NAME CONDITION...
  local name="$1"
  shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
syn=(--data synthetic --limit-train 256 --limit-test 128)
"$bin" train --model lenet5 "${syn[@]}" --epochs 1 --out "$tmp/run" >/dev/null 2>&1 || { echo "FAIL: training"; exit 1; }
ck="$tmp/run/checkpoint.safetensors"
"$bin" export --checkpoint "$ck" --onnx "$tmp/lenet5.onnx" >"$tmp/export.json" 2>"$tmp/err"
check "export: 12 nodes, 10 initializers" grep -q '"initializers":10,"model":"lenet5","nodes":12' "$tmp/export.json"
# eval: the same accuracy and loss (the model name differs: the file's name).
"$bin" eval --checkpoint "$ck" "${syn[@]}" --save-logits "$tmp/a.npy" | sed 's/"images_per_s":[^,]*,//; s/"model":"[^"]*",//' >"$tmp/a.json"
"$bin" eval --checkpoint "$tmp/lenet5.onnx" "${syn[@]}" --save-logits "$tmp/b.npy" |
  sed 's/"images_per_s":[^,]*,//; s/"model":"[^"]*",//' >"$tmp/b.json"
check "eval equal" cmp -s "$tmp/a.json" "$tmp/b.json"
check "logits equal bit for bit" cmp -s "$tmp/a.npy" "$tmp/b.npy"
# sweep: every row equal but the model column.
grid=(--layers all --bits 3,14,15 --stuck 0,1 --rates 0.05 --formats q4.11)
"$bin" sweep --checkpoint "$ck" "${syn[@]}" "${grid[@]}" --out "$tmp/a.csv" >/dev/null 2>&1
"$bin" sweep --checkpoint "$tmp/lenet5.onnx" "${syn[@]}" "${grid[@]}" --out "$tmp/b.csv" >/dev/null 2>&1
check "sweep has rows" test "$(wc -l <"$tmp/b.csv")" -eq 32
check "sweep equal" cmp -s <(cut -d, -f3- "$tmp/a.csv") <(cut -d, -f3- "$tmp/b.csv")
# train from the .onnx file; the checkpoint carries the graph.
"$bin" train --model "$tmp/lenet5.onnx" "${syn[@]}" --epochs 1 --out "$tmp/imported" >/dev/null 2>&1
check "train --model F.onnx" test -s "$tmp/imported/checkpoint.safetensors"
mv "$tmp/lenet5.onnx" "$tmp/moved.onnx"
check "eval an imported checkpoint without its .onnx" \
  bash -c "'$bin' eval --checkpoint '$tmp/imported/checkpoint.safetensors' ${syn[*]} | grep -q '\"model\":\"lenet5\"'"
check "xbar an imported checkpoint" bash -c "'$bin' xbar --checkpoint '$tmp/imported/checkpoint.safetensors' --size 32 | grep -q 'every layout verified'"
"$bin" prune --checkpoint "$tmp/imported/checkpoint.safetensors" --method oneshot --density 0.3 "${syn[@]}" --epochs 1 \
  --out "$tmp/pruned" >/dev/null 2>&1
check "prune an imported checkpoint" grep -q '"density"' "$tmp/pruned/report.json"
check "export a pruned imported checkpoint" bash -c "'$bin' export --checkpoint '$tmp/pruned/checkpoint.safetensors' --onnx '$tmp/p.onnx' >/dev/null"
echo "cli_onnx: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
