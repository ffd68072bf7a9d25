#!/usr/bin/env bash
# Deploying LeNet-5 onto faulty bit-sliced chips (docs/EXPERIMENTS.md, "Deploying onto a faulty
# chip"), on Fashion-MNIST:
#   1. LeNet-5 trained 15 epochs (dense), and pruned one-shot to 10% with 3 epochs of fine-tuning;
#   2. both deployed at 128 x 128 cells, b = 1, 2, 4 bits per cell, cell rates 0.5 / 1 / 2 %,
#      SA0:SA1 = 1.75:9.04 and 1:1, ten chips each (chip seeds 0-9): naive and fault-aware
#      placement on the `none` layout (no spares) and on the `best` layout with the tiles it
#      frees (tiles of `none` minus tiles of `best`) as spare tiles;
#   2b. fault-aware placement weighted by the weights' squared gradients (--sensitivity 256)
#      against every weight alike, b = 1, 2, cell rates 1 / 2 %, SA0:SA1 = 1.75:9.04;
#   3. chip-specific fine-tuning at 2 bits per cell, `none` layout, ten chips: at 1% (1.75:9.04)
#      in q4.11, and at the measured chip rates in both conventions (HRS 1.75% + LRS 9.04%, and
#      HRS 9.04% + LRS 1.75%) in q4.11 and in per-layer maxabs words: the masks deploy writes, one
#      epoch of `train --fault-masks M --fault-mode keep_bit --lr 0.0001`, then `eval --fault-masks
#      M` (the same cells hold the same weights; at lr 0.001 the fine-tuning diverged on chips whose
#      stuck cells make large weights: one chip 81% -> 56%, at 1e-4 85%);
#   4. VGG11-BN on Fashion-MNIST padded to 32x32x3 (a short CPU run), dense and pruned to 10%,
#      b = 1, 2, 4 at 1% (1.75:9.04), q4.11 and maxabs words, ten chips, naive vs fault-aware
#      (VGG11=0 skips it);
#   5. OUT/deploy.csv, OUT/finetune.csv and OUT/summary.md (python3, standard library only).
# Every step skips outputs that already exist, so an interrupted run continues where it stopped.
# CPU time on 2 cores: training ~1 min, step 2 ~6 min, step 2b ~1 min, step 3 ~25 min, step 4 ~20 min.
# Usage: examples/deploy_experiments.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, runs/deploy)
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-runs/deploy}
BIN="$BUILD/bin/stuckat"
[[ -x "$BIN" ]] || { echo "deploy_experiments.sh: $BIN not found; build first (cmake --build $BUILD)" >&2; exit 2; }
THREADS=${THREADS:-2}
export OMP_WAIT_POLICY=PASSIVE
t=(--threads "$THREADS")
mkdir -p "$OUT/runs" "$OUT/masks" "$OUT/finetune"
started=$SECONDS
step() { echo "== $1 ($((SECONDS - started)) s)"; }

# 1. The networks.
step "training"
"$BIN" train --model lenet5 --epochs 15 --lr 0.1 --weight-decay 5e-4 --gamma 0.95 --seed 0 "${t[@]}" \
  --out "$OUT/dense" --resume >"$OUT/dense.log" 2>&1
[ -f "$OUT/pruned/report.json" ] ||
  "$BIN" prune --checkpoint "$OUT/dense/checkpoint.safetensors" --method oneshot --density 0.1 --epochs 3 --lr 0.05 "${t[@]}" \
    --out "$OUT/pruned" --resume >"$OUT/pruned.log" 2>&1
declare -A ck=([dense]="$OUT/dense/checkpoint.safetensors" [pruned]="$OUT/pruned/checkpoint.safetensors")

# 2. Naive vs fault-aware, with and without the spares `best` frees.
step "deployments"
for net in pruned dense; do
  for b in 1 2 4; do
    tiles="$OUT/runs/tiles-$net-b$b.json"
    [ -f "$tiles" ] || "$BIN" deploy --checkpoint "${ck[$net]}" "${t[@]}" --size 128 --cell-bits "$b" --chip "rate=0,seed=0" \
      --layout none,best --placement naive --limit-test 1000 --json "$tiles" >/dev/null
    freed=$(python3 -c "import json,sys; r={x['layout']: x['tiles_used'] for x in json.load(open(sys.argv[1]))['results']}; print(r['none'] - r['best'])" "$tiles")
    for rate in 0.005 0.01 0.02; do
      for sa in 1.75:9.04 1:1; do
        name="$net-b$b-r$rate-sa${sa/:/-}"
        [ -f "$OUT/runs/$name-none.json" ] || "$BIN" deploy --checkpoint "${ck[$net]}" "${t[@]}" --size 128 --cell-bits "$b" \
          --chip "rate=$rate,sa=$sa" --chip-seeds 0-9 --layout none --json "$OUT/runs/$name-none.json" >/dev/null
        [ -f "$OUT/runs/$name-best.json" ] || "$BIN" deploy --checkpoint "${ck[$net]}" "${t[@]}" --size 128 --cell-bits "$b" \
          --chip "rate=$rate,sa=$sa" --chip-seeds 0-9 --layout best --spare-tiles "$freed" --json "$OUT/runs/$name-best.json" >/dev/null
      done
    done
    step "$net b=$b done"
  done
done

# 2b. Sensitivity: fault-aware placement weighing each weight by its squared gradient (256
#     training images) against every weight alike, at the rates where uniform placement loses most.
step "sensitivity"
for net in pruned dense; do
  for b in 1 2; do
    for rate in 0.01 0.02; do
      name="$net-b$b-r$rate-sa1.75-9.04"
      [ -f "$OUT/runs/$name-sens.json" ] || "$BIN" deploy --checkpoint "${ck[$net]}" "${t[@]}" --size 128 --cell-bits "$b" \
        --chip "rate=$rate,sa=1.75:9.04" --chip-seeds 0-9 --layout none --placement fault-aware --sensitivity 256 \
        --json "$OUT/runs/$name-sens.json" >/dev/null
    done
  done
done

# 3. Placement, then one epoch of fine-tuning for the chip: q4.11 at 1% of cells stuck, and at the
#    measured rates in both conventions in q4.11 and in per-layer maxabs words.
step "fine-tuning"
declare -A chips=([r1]="rate=0.01,sa=1.75:9.04" [hrs1.75-lrs9.04]="hrs=0.0175,lrs=0.0904" [hrs9.04-lrs1.75]="hrs=0.0904,lrs=0.0175")
for net in pruned dense; do
  for cq in r1:q4.11 hrs1.75-lrs9.04:q4.11 hrs9.04-lrs1.75:q4.11 hrs1.75-lrs9.04:maxabs hrs9.04-lrs1.75:maxabs; do
    c=${cq%%:*} quant=${cq#*:}
    name="ft-$net-$c-$quant"
    [ -f "$OUT/runs/$name.json" ] || "$BIN" deploy --checkpoint "${ck[$net]}" "${t[@]}" --size 128 --cell-bits 2 --quant "$quant" \
      --chip "${chips[$c]}" --chip-seeds 0-9 --layout none --masks-out "$OUT/masks/$name" --json "$OUT/runs/$name.json" >/dev/null
    for placement in naive fault-aware; do
      for seed in 0 1 2 3 4 5 6 7 8 9; do
        masks="$OUT/masks/$name/none-$placement-chip$seed.safetensors"
        run="$OUT/finetune/$name-$placement-chip$seed"
        [ -f "$run/eval.json" ] && continue
        "$BIN" train --init "${ck[$net]}" --quant "$quant" --fault-masks "$masks" --fault-mode keep_bit --epochs 1 --lr 0.0001 \
          "${t[@]}" --out "$run" --resume >"$run.log" 2>&1
        "$BIN" eval --checkpoint "$run/checkpoint.safetensors" --quant "$quant" --fault-masks "$masks" "${t[@]}" >"$run/eval.json.tmp"
        mv "$run/eval.json.tmp" "$run/eval.json"
      done
    done
  done
  step "$net fine-tuned"
done

# 4. VGG11-BN on Fashion-MNIST padded to 32x32x3, a short CPU run (VGG_TRAIN training images, 2
#    epochs; pruned one-shot to 10% with 1 epoch of fine-tuning), deployed at b = 1, 2, 4 with 1% of
#    cells stuck (1.75:9.04), ten chips, naive vs fault-aware on `none`, on VGG_TEST test images, in
#    q4.11 and in per-layer maxabs words.
#    VGG11=0 skips it.
if [ "${VGG11:-1}" != 0 ]; then
  step "VGG11"
  vgg=(--data fashion-mnist --resize 32 --channels 3 --limit-train "${VGG_TRAIN:-20000}" --limit-test "${VGG_TEST:-2000}")
  "$BIN" train --model vgg11_bn "${vgg[@]}" --epochs 2 --lr 0.05 --weight-decay 5e-4 --seed 0 "${t[@]}" \
    --out "$OUT/vgg11dense" --resume >"$OUT/vgg11dense.log" 2>&1
  [ -f "$OUT/vgg11pruned/report.json" ] ||
    "$BIN" prune --checkpoint "$OUT/vgg11dense/checkpoint.safetensors" --method oneshot --density 0.1 --epochs 1 --lr 0.01 \
      "${vgg[@]}" "${t[@]}" --out "$OUT/vgg11pruned" --resume >"$OUT/vgg11pruned.log" 2>&1
  for net in vgg11pruned vgg11dense; do
    for b in 1 2 4; do
      name="$net-b$b-r0.01-sa1.75-9.04"
      [ -f "$OUT/runs/$name-none.json" ] || "$BIN" deploy --checkpoint "$OUT/$net/checkpoint.safetensors" "${vgg[@]}" "${t[@]}" \
        --size 128 --cell-bits "$b" --chip "rate=0.01,sa=1.75:9.04" --chip-seeds 0-9 --layout none \
        --json "$OUT/runs/$name-none.json" >/dev/null
      [ -f "$OUT/runs/$name-maxabs.json" ] || "$BIN" deploy --checkpoint "$OUT/$net/checkpoint.safetensors" "${vgg[@]}" "${t[@]}" \
        --size 128 --cell-bits "$b" --quant maxabs --chip "rate=0.01,sa=1.75:9.04" --chip-seeds 0-9 --layout none \
        --json "$OUT/runs/$name-maxabs.json" >/dev/null
    done
    step "$net deployed"
  done
fi

# 5. Tables.
python3 "$(dirname "$0")/deploy_experiments_report.py" "$OUT"
step "done"
