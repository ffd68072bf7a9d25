#!/usr/bin/env bash
# Fault masks travel with checkpoints and load from files: a faulty run's checkpoint holds its
# masks; `eval --fault-masks` with them on a clean quantized checkpoint gives exactly what
# `eval --faults` with the same spec gives; training from those masks keeps them; bad mask files
# and flags exit 2 with one sentence.
# Usage: cli_fault_masks.sh path/to/stuckat
set -u
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
source "$(dirname "$0")/cli_expect.sh"
data=(--data synthetic --limit-train 128 --limit-test 64 --threads 2)
spec="layer=conv2,bit=13,stuck=1,rate=0.2,seed=5"
train=(train --model lenet5 "${data[@]}" --batch 32 --epochs 1)
"$bin" "${train[@]}" --quant q4.11 --out "$tmp/clean" >/dev/null 2>&1 || { echo "FAIL: clean run"; exit 1; }
"$bin" "${train[@]}" --faults "$spec" --out "$tmp/faulty" >/dev/null 2>&1 || { echo "FAIL: faulty run"; exit 1; }
grep -aq "fault_and.conv2" "$tmp/faulty/checkpoint.safetensors" || { echo "FAIL: no fault masks in the checkpoint"; fail=1; }

# The accuracy, loss and per-layer fault counts of both evaluations (everything but the flags echoed).
results() { sed -e 's/"faults":\[[^]]*\],//' -e 's/"fault_masks":"[^"]*",//' -e 's/"images_per_s":[^,}]*//' "$1"; }
ev=(eval --checkpoint "$tmp/clean/checkpoint.safetensors" "${data[@]}")
"$bin" "${ev[@]}" --faults "$spec" >"$tmp/by_spec.json" 2>/dev/null || { echo "FAIL: eval --faults"; fail=1; }
"$bin" "${ev[@]}" --fault-masks "$tmp/faulty/checkpoint.safetensors" >"$tmp/by_file.json" 2>/dev/null ||
  { echo "FAIL: eval --fault-masks"; fail=1; }
grep -q '"faulty":[1-9][0-9]*,"layer":"conv2"' "$tmp/by_spec.json" || { echo "FAIL: no faults in conv2"; cat "$tmp/by_spec.json"; fail=1; }
if [ "$(results "$tmp/by_spec.json")" != "$(results "$tmp/by_file.json")" ]; then
  echo "FAIL: eval --fault-masks differs from eval --faults with the same spec:"
  cat "$tmp/by_spec.json" "$tmp/by_file.json"
  fail=1
fi

# Training from the masks (keep_weight, no --faults): its checkpoint carries the same stuck bits.
"$bin" "${train[@]}" --fault-masks "$tmp/faulty/checkpoint.safetensors" --fault-mode keep_weight --out "$tmp/again" \
  >/dev/null 2>&1 || { echo "FAIL: train --fault-masks"; fail=1; }
"$bin" "${ev[@]}" --fault-masks "$tmp/again/checkpoint.safetensors" >"$tmp/again.json" 2>/dev/null ||
  { echo "FAIL: eval of the masks of the run trained from masks"; fail=1; }
[ "$(results "$tmp/again.json")" = "$(results "$tmp/by_file.json")" ] ||
  { echo "FAIL: the masks changed through training"; cat "$tmp/again.json"; fail=1; }

expect "no masks in the file" "holds no fault masks" -- "$bin" "${ev[@]}" --fault-masks "$tmp/clean/checkpoint.safetensors"
expect "missing mask file" "missing.safetensors" -- "$bin" "${ev[@]}" --fault-masks "$tmp/missing.safetensors"
expect "masks with --quant none" "--quant is none" -- "$bin" "${train[@]}" --quant none --fault-masks \
  "$tmp/faulty/checkpoint.safetensors" --out "$tmp/x"
expect "masks for another model" "not a conv or linear layer" -- "$bin" train --model vgg11 --data synthetic \
  --resize 32 --channels 3 --limit-train 8 --limit-test 8 --epochs 1 --fault-masks "$tmp/faulty/checkpoint.safetensors" --out "$tmp/y"

echo "cli_fault_masks: $pass bad-input checks passed, $fail failures"
[ "$fail" -eq 0 ]
