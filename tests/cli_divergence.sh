#!/usr/bin/env bash
# A run whose loss becomes NaN/inf stops with exit code 3, one sentence on stderr, a
# DIR/divergence.json report (epoch, batch, loss, the parameter with the largest |w|), and the
# files of the last finished epoch kept untouched. Usage: cli_divergence.sh path/to/stuckat
set -u
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {  # check NAME CONDITION...
  local name="$1"
  shift
  if ! "$@"; then
    echo "FAIL $name"
    fail=$((fail + 1))
  fi
}
common=(--data synthetic --limit-train 256 --limit-test 64 --batch 64)

# lr 1e6 diverges in the first epoch: no checkpoint exists to keep.
"$bin" train "${common[@]}" --epochs 2 --lr 1e6 --histograms epochs=0 --out "$tmp/a" >"$tmp/out" 2>"$tmp/err"
code=$?
check "exit code 3 (got $code)" [ "$code" -eq 3 ]
check "one divergence sentence" [ "$(grep -c 'training diverged' "$tmp/err")" -eq 1 ]
check "report written" [ -f "$tmp/a/divergence.json" ]
check "report says epoch 1" grep -q '"epoch": 1' "$tmp/a/divergence.json"
check "report names a parameter" grep -q '"largest_weights_parameter": "[a-z0-9.]*weight"' "$tmp/a/divergence.json"
batch=$(sed -nE 's/.*"batch": ([0-9]+).*/\1/p' "$tmp/a/divergence.json")
# Histograms: the initial weights (epoch 0) and the weights at the diverging batch, 5 layers each.
check "histogram summary rows" [ "$(grep -c '^0,-1,' "$tmp/a/histogram_summary.csv")" -eq 5 ]
check "histogram at the diverging batch" [ "$(grep -c "^1,$batch," "$tmp/a/histogram_summary.csv")" -eq 5 ]
check "histogram picture of the initial weights" [ -s "$tmp/a/histograms/epoch0.png" ]
check "histogram picture at the diverging batch" [ -s "$tmp/a/histograms/epoch1_batch$batch.png" ]
check "no checkpoint claimed" grep -q '"last_finite_checkpoint": null' "$tmp/a/divergence.json"

# StepLR with gamma 1e5: epoch 1 at lr 0.1 is fine, epoch 2 at lr 1e4 diverges; epoch 1's
# checkpoint must be the one kept, byte for byte.
"$bin" train "${common[@]}" --epochs 1 --gamma 100000 --out "$tmp/b" >/dev/null 2>&1 ||
  check "fixture epoch" false
cp "$tmp/b/checkpoint.safetensors" "$tmp/epoch1.safetensors"
"$bin" train "${common[@]}" --epochs 3 --gamma 100000 --resume --out "$tmp/b" >"$tmp/out" 2>"$tmp/err"
code=$?
check "exit code 3 after a finished epoch (got $code)" [ "$code" -eq 3 ]
check "report says epoch 2" grep -q '"epoch": 2' "$tmp/b/divergence.json"
check "checkpoint of epoch 1 kept" cmp -s "$tmp/b/checkpoint.safetensors" "$tmp/epoch1.safetensors"
check "report points to it" grep -q "\"last_finite_checkpoint\": \"$tmp/b/checkpoint.safetensors\"" "$tmp/b/divergence.json"
check "metrics hold epoch 1 only" [ "$(wc -l <"$tmp/b/metrics.jsonl")" -eq 1 ]

echo "cli_divergence: $fail failed"
[ "$fail" -eq 0 ]
