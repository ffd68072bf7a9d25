#!/usr/bin/env bash
# Stuck-at fault experiments on LeNet-5 / Fashion-MNIST (docs/EXPERIMENTS.md, "Stuck-at faults").
#   1. Train LeNet-5 with and without batch norm.
#   2. Sensitivity: sweep every layer x bit 0-15 x SA0/SA1 x rate 1%/5% x 3 fault seeds (Q4.11)
#      on each model; plots of accuracy vs bit position and vs rate.
#   3. Fault-aware training: 1% of conv2's weights with the MSB (bit 15, the sign bit of Q4.11)
#      stuck at 1, trained under each --fault-mode; loss/accuracy curves, weight histograms, and
#      the accuracy of each trained model deployed on the faulty crossbar (eval --faults).
#   4. examples/fault_experiments_report.py writes the tables into OUT/results.md.
# Usage: examples/fault_experiments.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, docs/experiments/faults)
# EPOCHS (default 10), THREADS (default 2) and SEEDS (default 0-2) come from the environment.
# About 10 minutes on 2 cores. Intermediate runs go to OUT/runs (not committed).
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-docs/experiments/faults}
EPOCHS=${EPOCHS:-10}
THREADS=${THREADS:-2}
SEEDS=${SEEDS:-0-2}
BIN="$BUILD/bin/stuckat"
[[ -x "$BIN" ]] || { echo "fault_experiments.sh: $BIN not found; build first (cmake --build $BUILD)" >&2; exit 2; }
RUNS="$OUT/runs"
mkdir -p "$OUT" "$RUNS"
TRAIN=(--epochs "$EPOCHS" --lr 0.01 --momentum 0.9 --weight-decay 5e-4 --step-size 1 --gamma 0.95 --seed 0
       --threads "$THREADS")
FAULT="layer=conv2,bit=15,stuck=1,rate=0.01,seed=0"

for model in lenet5 lenet5_bn; do
  echo "== train $model ($EPOCHS epochs)"
  "$BIN" train --model "$model" "${TRAIN[@]}" --out "$RUNS/$model" --resume > "$RUNS/$model.log"
  tail -n 1 "$RUNS/$model.log"
  echo "== sweep $model"
  "$BIN" sweep --checkpoint "$RUNS/$model/checkpoint.safetensors" --layers all --bits 0-15 --stuck 0,1 \
    --rates 0.01,0.05 --seeds "$SEEDS" --formats q4.11 --threads "$THREADS" --out "$OUT/sweep_$model.csv" \
    --resume | tail -n 1
  "$BIN" plot "$OUT/sweep_$model.csv" --prefix "$OUT/$model" --charts bits > /dev/null
done

MODES=(none keep_bit keep_weight zero clip)
for mode in "${MODES[@]}"; do
  echo "== fault-aware training, conv2 1% MSB stuck-at-1, --fault-mode $mode"
  "$BIN" train --model lenet5 "${TRAIN[@]}" --quant q4.11 --faults "$FAULT" --fault-mode "$mode" \
    --histograms "epochs=0,1,$EPOCHS" --out "$RUNS/fat_$mode" --resume > "$RUNS/fat_$mode.log" || {
    code=$?
    # Exit 3 is a diverged run (divergence.json written); the report says so. Anything else stops.
    [[ $code -eq 3 ]] || exit $code
  }
  tail -n 1 "$RUNS/fat_$mode.log"
  "$BIN" eval --checkpoint "$RUNS/fat_$mode/checkpoint.safetensors" --quant q4.11 --faults "$FAULT" \
    --threads "$THREADS" > "$RUNS/fat_$mode.deployed.json"
  cp "$RUNS/fat_$mode/histograms/epoch$EPOCHS.png" "$OUT/fat_${mode}_histogram_epoch$EPOCHS.png" 2>/dev/null || true
done
cp "$RUNS/fat_none/histograms/epoch0.png" "$OUT/fat_histogram_epoch0.png"
metrics=()
for mode in "${MODES[@]}"; do metrics+=("$RUNS/fat_$mode/metrics.jsonl"); done
names=$(IFS=,; echo "${MODES[*]}")
"$BIN" plot "${metrics[@]}" --key train_loss --names "$names" --title "LeNet-5, conv2 1% MSB stuck-at-1: train loss" \
  --out "$OUT/fat_train_loss.png" > /dev/null
"$BIN" plot "${metrics[@]}" --key test_acc --names "$names" --title "LeNet-5, conv2 1% MSB stuck-at-1: test accuracy" \
  --out "$OUT/fat_test_acc.png" > /dev/null

python3 "$(dirname "$0")/fault_experiments_report.py" "$OUT" "$EPOCHS"
echo "results: $OUT/results.md"
