#!/usr/bin/env bash
# A run interrupted after epoch 1 and resumed to epoch 3 must end with the same checkpoint,
# optimizer state and metrics as an uninterrupted 3-epoch run (same seed and threads).
# Checked for plain SGD and for fault-aware training (masks, master weights and the format travel in
# train_state), for a run killed between its train_state and checkpoint writes, and for the
# weight histograms of a run stopped mid-epoch. Also: --resume with other settings is refused. Usage: cli_resume.sh path/to/stuckat
set -u
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(train --model lenet5 --data synthetic --limit-train 256 --limit-test 64 --batch 32 --momentum 0.9
        --threads 2 --seed 3)
fail=0
faulty=(--quant q4.11 --faults layer=conv2,bit=random,stuck=mix:1:1,rate=0.1,seed=2 --fault-mode keep_bit)
"$bin" "${common[@]}" "${faulty[@]}" --epochs 2 --out "$tmp/ffull" >/dev/null 2>&1 || { echo "FAIL: full faulty run"; fail=1; }
"$bin" "${common[@]}" "${faulty[@]}" --epochs 1 --out "$tmp/fpart" >/dev/null 2>&1 || { echo "FAIL: faulty part"; fail=1; }
"$bin" "${common[@]}" "${faulty[@]}" --epochs 2 --out "$tmp/fpart" --resume >/dev/null 2>&1 ||
  { echo "FAIL: resumed faulty part"; fail=1; }
"$bin" "${common[@]}" --epochs 3 --out "$tmp/full" >/dev/null 2>&1 || { echo "FAIL: full run"; fail=1; }
"$bin" "${common[@]}" --epochs 1 --out "$tmp/part" >/dev/null 2>&1 || { echo "FAIL: first part"; fail=1; }
cp "$tmp/part/checkpoint.safetensors" "$tmp/part1.safetensors"  # epoch 1's checkpoint
"$bin" "${common[@]}" --epochs 3 --out "$tmp/part" --resume >/dev/null 2>&1 || { echo "FAIL: resumed part"; fail=1; }
# Killed after epoch 2's train_state was written but before its checkpoint: the checkpoint (and
# the metrics, written first) are epoch 1's and 2's. Resumed from the state alone, it still ends as the full run;
# and resumed with no epoch left, the lagging checkpoint is rewritten.
"$bin" "${common[@]}" --epochs 2 --out "$tmp/lag" >/dev/null 2>&1 || { echo "FAIL: lag part"; fail=1; }
cp "$tmp/lag/checkpoint.safetensors" "$tmp/lag2.safetensors"
cp "$tmp/part1.safetensors" "$tmp/lag/checkpoint.safetensors"
"$bin" "${common[@]}" --epochs 2 --out "$tmp/lag" --resume >/dev/null 2>&1 || { echo "FAIL: lag, nothing left"; fail=1; }
cmp -s "$tmp/lag/checkpoint.safetensors" "$tmp/lag2.safetensors" || { echo "FAIL: the lagging checkpoint was not rewritten"; fail=1; }
cp "$tmp/part1.safetensors" "$tmp/lag/checkpoint.safetensors"
"$bin" "${common[@]}" --epochs 3 --out "$tmp/lag" --resume >/dev/null 2>&1 || { echo "FAIL: lag resumed"; fail=1; }
for f in checkpoint.safetensors train_state.safetensors; do
  cmp -s "$tmp/full/$f" "$tmp/part/$f" || { echo "FAIL: $f differs after resume"; fail=1; }
  cmp -s "$tmp/full/$f" "$tmp/lag/$f" || { echo "FAIL: $f differs after resuming past a lagging checkpoint"; fail=1; }
  cmp -s "$tmp/ffull/$f" "$tmp/fpart/$f" || { echo "FAIL: $f differs after resuming fault-aware training"; fail=1; }
done
# With histograms every 4 batches: a run stopped during epoch 2 (its batch records for epoch 2 and
# a partial line already written) and resumed writes the same histogram files as the full run.
hist=(--histograms batches=4 --histogram-bins 16)
"$bin" "${common[@]}" "${hist[@]}" --epochs 2 --out "$tmp/hfull" >/dev/null 2>&1 || { echo "FAIL: histogram full run"; fail=1; }
"$bin" "${common[@]}" "${hist[@]}" --epochs 1 --out "$tmp/hpart" >/dev/null 2>&1 || { echo "FAIL: histogram part"; fail=1; }
grep '^2,4,' "$tmp/hfull/histograms.csv" >>"$tmp/hpart/histograms.csv"  # epoch 2's first batch record
grep '^2,4,' "$tmp/hfull/histogram_summary.csv" >>"$tmp/hpart/histogram_summary.csv"
printf '2,8,conv1,3' >>"$tmp/hpart/histograms.csv"  # killed while writing
"$bin" "${common[@]}" "${hist[@]}" --epochs 2 --out "$tmp/hpart" --resume >/dev/null 2>&1 || { echo "FAIL: histogram resume"; fail=1; }
for f in histograms.csv histogram_summary.csv; do
  cmp -s "$tmp/hfull/$f" "$tmp/hpart/$f" || { echo "FAIL: $f differs after resume"; fail=1; }
done
# Metrics agree except for timings.
strip() { sed -E 's/"(train_images_per_s|train_seconds|eval_images_per_s)":[0-9.e+-]+,?//g' "$1"; }
[ "$(strip "$tmp/full/metrics.jsonl")" = "$(strip "$tmp/part/metrics.jsonl")" ] ||
  { echo "FAIL: metrics differ after resume"; fail=1; }
[ "$(wc -l <"$tmp/part/metrics.jsonl")" -eq 3 ] || { echo "FAIL: metrics.jsonl should have 3 rows"; fail=1; }
ls "$tmp/part" | grep -q '\.tmp$' && { echo "FAIL: a .tmp file was left behind"; fail=1; }
"$bin" "${common[@]}" --epochs 4 --lr 0.05 --out "$tmp/part" --resume >/dev/null 2>"$tmp/err"
code=$?
if [ "$code" -ne 2 ] || ! grep -q "resume" "$tmp/err"; then echo "FAIL: resume with other settings: exit $code"; fail=1; fi
# --weight-init kaiming: recorded in the checkpoint (what prune's lottery-ticket rewinding rebuilds
# theta0 from) and in the run's settings (resuming it under the default scheme is refused); a run
# resumed after epoch 1 ends as the uninterrupted one; refused with --init (weights from a file).
kaiming=(--weight-init kaiming)
"$bin" "${common[@]}" "${kaiming[@]}" --epochs 2 --out "$tmp/kfull" >/dev/null 2>&1 || { echo "FAIL: kaiming full run"; fail=1; }
"$bin" "${common[@]}" "${kaiming[@]}" --epochs 1 --out "$tmp/kpart" >/dev/null 2>&1 || { echo "FAIL: kaiming part"; fail=1; }
head -c 4096 "$tmp/kpart/checkpoint.safetensors" | grep -aq '"weight_init":"kaiming"' ||
  { echo "FAIL: the checkpoint does not record weight_init kaiming"; fail=1; }
"$bin" "${common[@]}" --epochs 2 --out "$tmp/kpart" --resume >/dev/null 2>"$tmp/err"
code=$?
if [ "$code" -ne 2 ] || ! grep -q "resume" "$tmp/err"; then echo "FAIL: kaiming run resumed as default: exit $code"; fail=1; fi
"$bin" "${common[@]}" "${kaiming[@]}" --epochs 2 --out "$tmp/kpart" --resume >/dev/null 2>&1 || { echo "FAIL: kaiming resume"; fail=1; }
cmp -s "$tmp/kfull/checkpoint.safetensors" "$tmp/kpart/checkpoint.safetensors" ||
  { echo "FAIL: kaiming checkpoint differs after resume"; fail=1; }
"$bin" "${common[@]}" "${kaiming[@]}" --epochs 1 --init "$tmp/part1.safetensors" --out "$tmp/kinit" >/dev/null 2>"$tmp/err"
code=$?
if [ "$code" -ne 2 ] || ! grep -q -- "--weight-init" "$tmp/err"; then echo "FAIL: --weight-init with --init: exit $code"; fail=1; fi
if [ "$fail" -eq 0 ]; then echo "cli_resume: 1 passed, 0 failed"; else echo "cli_resume: 0 passed, 1 failed"; fi
exit "$fail"
