#!/usr/bin/env bash
# The main job on the embedded default data (Fashion-MNIST from Debian's dataset-fashion-mnist):
#   1. train LeNet-5;
#   2. sweep stuck-at faults over every layer, bit positions and SA0/SA1 at 1% and 5% (Q4.11);
#   3. fault-aware fine-tuning: conv2 with 1% of its weights' MSB stuck at 1, the clean model
#      deployed as it is vs fine-tuned with --fault-mode keep_bit;
#   4. prune to 10% density (global magnitude, one epoch of fine-tuning) and evaluate the dense
#      and the sparse network with 1% faults on their remaining weights;
#   5. map the pruned layers onto 32 x 32 crossbar tiles and compare the reordering strategies;
#   6. REPORT.md with the figures and pictures (scripts/main_report.py).
# Usage: scripts/main_job.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, runs/main)
# EPOCHS (default 3), THREADS (default: all cores) and DATA_FLAGS (default: none, i.e. all of
# Fashion-MNIST; the tests use "--data synthetic --limit-train 256 --limit-test 128") come from
# the environment. Every step resumes: rerunning skips what is finished.
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-runs/main}
EPOCHS=${EPOCHS:-3}
THREADS=${THREADS:-0}
read -r -a DATA <<< "${DATA_FLAGS:-}"
BIN="$BUILD/bin/stuckat"
[[ -x "$BIN" ]] || { echo "main_job.sh: $BIN not found; build first (cmake --build $BUILD)" >&2; exit 2; }
mkdir -p "$OUT"
FAULT="layer=conv2,bit=15,stuck=1,rate=0.01,seed=0"

echo "== 1. train LeNet-5 on Fashion-MNIST ($EPOCHS epochs)"
"$BIN" train --model lenet5 "${DATA[@]}" --epochs "$EPOCHS" --lr 0.01 --momentum 0.9 --seed 0 \
  --threads "$THREADS" --out "$OUT/train" --resume | tail -n 1

echo "== 2. stuck-at fault sweep"
"$BIN" sweep --checkpoint "$OUT/train/checkpoint.safetensors" --layers all --bits 3,7,9,11,12,13,14,15 \
  --stuck 0,1 --rates 0.01,0.05 --seeds 0 --formats q4.11 "${DATA[@]}" --threads "$THREADS" --out "$OUT/sweep.csv" --resume |
  tail -n 1
"$BIN" plot "$OUT/sweep.csv" --prefix "$OUT/sweep" --charts bits > /dev/null

echo "== 3. fault-aware fine-tuning ($FAULT)"
"$BIN" eval --checkpoint "$OUT/train/checkpoint.safetensors" --quant q4.11 --faults "$FAULT" \
  "${DATA[@]}" --threads "$THREADS" > "$OUT/deployed_clean_model.json"
"$BIN" train --model lenet5 --init "$OUT/train/checkpoint.safetensors" --epochs 1 --lr 0.005 --momentum 0.9 \
  --quant q4.11 --faults "$FAULT" --fault-mode keep_bit --histograms epochs=0,1 "${DATA[@]}" --threads "$THREADS" \
  --out "$OUT/finetune" --resume | tail -n 1
"$BIN" eval --checkpoint "$OUT/finetune/checkpoint.safetensors" --quant q4.11 --faults "$FAULT" \
  "${DATA[@]}" --threads "$THREADS" > "$OUT/deployed_finetuned.json"

echo "== 4. prune to 10% density"
"$BIN" prune --checkpoint "$OUT/train/checkpoint.safetensors" --method oneshot --density 0.1 --epochs 1 --lr 0.01 \
  --momentum 0.9 "${DATA[@]}" --threads "$THREADS" --out "$OUT/prune" --json "$OUT/prune.json" | tail -n 1
SPARSE_FAULTS="layer=all,bit=random,stuck=mix:1.75:9.04,rate=0.01,seed=0,target=nonzero"
"$BIN" eval --checkpoint "$OUT/train/checkpoint.safetensors" --quant q4.11 --faults "$SPARSE_FAULTS" \
  "${DATA[@]}" --threads "$THREADS" > "$OUT/dense_faulty.json"
"$BIN" eval --checkpoint "$OUT/prune/checkpoint.safetensors" --quant q4.11 --faults "$SPARSE_FAULTS" \
  "${DATA[@]}" --threads "$THREADS" > "$OUT/sparse_faulty.json"

echo "== 5. crossbar mapping"
"$BIN" xbar --checkpoint "$OUT/prune/checkpoint.safetensors" --size 32 --json "$OUT/xbar.json" --png "$OUT/xbar.png" \
  --threads "$THREADS" | grep "tiles saved"

echo "== 6. report"
python3 "$(dirname "$0")/main_report.py" "$OUT"
echo "report: $OUT/REPORT.md"
