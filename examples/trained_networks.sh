#!/usr/bin/env bash
# The fault, pruning and crossbar experiments on trained VGG / ResNet networks (docs/EXPERIMENTS.md,
# "Trained VGG and ResNet networks"), on Fashion-MNIST padded to 32x32x3, or CIFAR-10 with
# DATA=cifar10 DATA_DIR=/path/to/cifar-10-batches-bin. For each model in MODELS:
#   1. train it (vgg11 with --weight-init kaiming: plain VGG does not learn from PyTorch's default
#      initialisation) on the first TRAIN_IMAGES images for EPOCHS epochs;
#   2. sweep every layer x BITS x SA0/SA1 x 1%/5% x SEEDS fault seeds (Q4.11) on TEST_IMAGES images;
#   3. prune one-shot and bounded one-shot (0.5% linear / 1.2% conv floors) to 10/7/4/2/1%, each
#      fine-tuned FT_EPOCHS epochs on FT_IMAGES images, and lottery-ticket rewinding (40% of the
#      remaining weights per round, LTH_EPOCHS epochs per round on FT_IMAGES images) down to 1%;
#   4. 1% stuck-at faults (random bit) on the remaining weights of one layer at a time, SA0 and SA1
#      separately, FAULT_SEEDS seeds, on the dense network and on the fine-tuned one-shot 10% one;
#      then on the dense network at the 10% one's count of faulty words per layer (the rate 1% x
#      the 10% layer's nonzero words / the dense layer's), separating the number of words hit from
#      the size of the weights they hit;
#   5. maps the fine-tuned one-shot networks at 4/2/1% (VGG11s also 10/7%) onto 128/64/8 tiles with
#      every strategy (xbar --json: tiles per strategy, and measured vs (1-d)^S zero segments).
# Then examples/trained_networks_report.py writes OUT/results.md, stating each step's CPU time, and
# OUT/<model>/sens_bits_*.png plot accuracy against the stuck bit per layer.
# Every step resumes or skips what exists, so an interrupted run continues where it stopped.
# Usage: examples/trained_networks.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, runs/trained)
# The defaults are a stated subset for 2 CPU cores (about 40 minutes for the two VGG11s); the
# research's settings are e.g. TRAIN_IMAGES=0 EPOCHS=30 BITS=0-15 SEEDS=0-4 TEST_IMAGES=0, on a GPU
# with DEVICE=cuda.
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-runs/trained}
BIN="$BUILD/bin/stuckat"
[[ -x "$BIN" ]] || { echo "trained_networks.sh: $BIN not found; build first (cmake --build $BUILD)" >&2; exit 2; }
MODELS=${MODELS:-vgg11_bn vgg11}
DATA=${DATA:-fashion-mnist}
TRAIN_IMAGES=${TRAIN_IMAGES:-20000}
EPOCHS=${EPOCHS:-3}
LR=${LR:-0.05}
TEST_IMAGES=${TEST_IMAGES:-1000}
BITS=${BITS:-0,5,10,14,15}
SEEDS=${SEEDS:-0-1}
FT_IMAGES=${FT_IMAGES:-5000}
FT_EPOCHS=${FT_EPOCHS:-1}
LTH_EPOCHS=${LTH_EPOCHS:-1}
FAULT_SEEDS=${FAULT_SEEDS:-0 1}
THREADS=${THREADS:-2}
DEVICE=${DEVICE:-cpu}
data=(--data "$DATA" --threads "$THREADS" --device "$DEVICE")
[[ -n "${DATA_DIR:-}" ]] && data+=(--data-dir "$DATA_DIR")
[[ "$DATA" == cifar10 ]] || data+=(--resize 32 --channels 3)
mkdir -p "$OUT"
# A step's CPU and wall seconds, appended to OUT/times.csv (step name, user+system s, wall s); the
# CPU time comes from the shell's own accounting of its finished children (`times`).
[[ -f "$OUT/times.csv" ]] || echo "step,cpu_s,wall_s" >"$OUT/times.csv"
child_cpu() {  # `times` itself must run in this shell, not in a $(...) subshell
  times >"$OUT/times.now"
  tail -n 1 "$OUT/times.now" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }'
}
timed() {
  local step=$1 before start
  shift
  child_cpu >"$OUT/cpu.before"
  start=$(date +%s.%N)
  "$@"
  child_cpu >"$OUT/cpu.after"
  awk -v step="$step" -v a="$(cat "$OUT/cpu.before")" -v b="$(cat "$OUT/cpu.after")" -v s="$start" -v e="$(date +%s.%N)" \
    'BEGIN { printf "%s,%.1f,%.1f\n", step, b - a, e - s }' >>"$OUT/times.csv"
}
acc() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["test_acc"])'; }
# fault_rows CSV NET CHECKPOINT LAYER=RATE...: appends NET's clean Q4.11 accuracy, then one row per
# layer x SA0/SA1 x FAULT_SEEDS with RATE of the layer's nonzero words stuck at a random bit.
fault_rows() {
  local csv=$1 net=$2 ck=$3 pair layer rate stuck seed a
  shift 3
  echo "$net,none,-,-,0,$("$BIN" eval --checkpoint "$ck" --quant q4.11 "${data[@]}" --limit-test "$TEST_IMAGES" | acc)" >>"$csv"
  for pair in "$@"; do
    layer=${pair%=*}
    rate=${pair##*=}
    for stuck in 0 1; do
      for seed in $FAULT_SEEDS; do
        a=$("$BIN" eval --checkpoint "$ck" --quant q4.11 "${data[@]}" --limit-test "$TEST_IMAGES" \
          --faults "layer=$layer,bit=random,stuck=$stuck,rate=$rate,seed=$seed,target=nonzero" | acc)
        echo "$net,$layer,$stuck,$seed,$rate,$a" >>"$csv"
      done
    done
  done
}

for model in $MODELS; do
  M="$OUT/$model"
  mkdir -p "$M"
  init=()
  [[ "$model" == vgg11 || "$model" == vgg16 || "$model" == vgg19 ]] && init=(--weight-init kaiming)
  # 1. train
  if [[ ! -f "$M/dense.done" ]]; then
    echo "== $model: train ($EPOCHS epochs on ${TRAIN_IMAGES} images)"
    timed "$model train" "$BIN" train --model "$model" "${init[@]}" "${data[@]}" --limit-train "$TRAIN_IMAGES" \
      --limit-test "$TEST_IMAGES" --epochs "$EPOCHS" --batch 64 --lr "$LR" --momentum 0.9 --weight-decay 5e-4 \
      --seed 0 --out "$M/dense" --resume >"$M/dense.log" 2>&1
    touch "$M/dense.done"
  fi
  dense="$M/dense/checkpoint.safetensors"
  # 2. sensitivity sweep
  if [[ ! -f "$M/sweep.done" ]]; then
    echo "== $model: sweep (bits $BITS, seeds $SEEDS, $TEST_IMAGES images)"
    timed "$model sweep" "$BIN" sweep --checkpoint "$dense" "${data[@]}" --limit-test "$TEST_IMAGES" --layers all \
      --bits "$BITS" --stuck 0,1 --rates 0.01,0.05 --seeds "$SEEDS" --formats q4.11 --out "$M/sweep.csv" \
      --resume >"$M/sweep.log" 2>&1
    touch "$M/sweep.done"
  fi
  "$BIN" plot "$M/sweep.csv" --prefix "$M/sens" --charts bits >/dev/null  # sens_bits_q4.11_sa<s>_rate<r>.png
  # 3. pruning
  ft=(--limit-train "$FT_IMAGES" --limit-test "$TEST_IMAGES" --lr 0.01 --momentum 0.9)
  if [[ ! -f "$M/prune.done" ]]; then
    echo "== $model: prune (one-shot, bounded one-shot, LTH)"
    for d in 0.1 0.07 0.04 0.02 0.01; do
      for m in oneshot oneshot-bounded; do
        [[ -f "$M/$m/d$d/report.json" ]] ||
          timed "$model prune $m $d" "$BIN" prune --checkpoint "$dense" --method "$m" --density "$d" \
            --epochs "$FT_EPOCHS" "${ft[@]}" "${data[@]}" --out "$M/$m/d$d" --resume >"$M/$m.d$d.log" 2>&1
      done
    done
    [[ -f "$M/lth/report.json" ]] ||
      timed "$model prune lth" "$BIN" prune --checkpoint "$dense" --method lth --rate 0.4 --density 0.01 \
        --epochs "$LTH_EPOCHS" "${ft[@]}" "${data[@]}" --out "$M/lth" --json "$M/lth.json" --resume >"$M/lth.log" 2>&1
    touch "$M/prune.done"
  fi
  # 4. 1% faults on the remaining weights: dense vs the 10% network, then dense at the 10% one's counts
  sparse="$M/oneshot/d0.1/checkpoint.safetensors"
  if [[ ! -f "$M/faults.csv" ]]; then
    echo "== $model: 1% faults on the remaining weights, dense vs 10%"
    "$BIN" xbar --checkpoint "$dense" --size 128 --strategy none --json "$M/layers.json" >/dev/null
    one_pct=$(python3 -c 'import json,sys; print(" ".join(l["name"] + "=0.01" for l in json.load(open(sys.argv[1]))["layers"]))' \
      "$M/layers.json")
    echo "net,layer,stuck,seed,rate,test_acc" >"$M/faults.csv.tmp"
    timed "$model faults" fault_rows "$M/faults.csv.tmp" dense "$dense" $one_pct
    timed "$model faults 10%" fault_rows "$M/faults.csv.tmp" sparse "$sparse" $one_pct
    mv "$M/faults.csv.tmp" "$M/faults.csv"
  fi
  if [[ ! -f "$M/faults_same_count.csv" ]]; then
    echo "== $model: faults on the dense network at the 10% network's count of faulty words"
    [[ -f "$M/layers.json" ]] || "$BIN" xbar --checkpoint "$dense" --size 128 --strategy none --json "$M/layers.json" >/dev/null
    "$BIN" xbar --checkpoint "$sparse" --size 128 --strategy none --json "$M/layers_sparse.json" >/dev/null
    same_count=$(python3 - "$M/layers.json" "$M/layers_sparse.json" <<'PY'
import json, sys
dense, sparse = (json.load(open(f))["layers"] for f in sys.argv[1:])
print(" ".join("%s=%.6g" % (d["name"], 0.01 * s["nnz"] / d["nnz"]) for d, s in zip(dense, sparse)))
PY
)
    echo "net,layer,stuck,seed,rate,test_acc" >"$M/faults_same_count.csv.tmp"
    timed "$model faults same count" fault_rows "$M/faults_same_count.csv.tmp" dense_same_count "$dense" $same_count
    mv "$M/faults_same_count.csv.tmp" "$M/faults_same_count.csv"
  fi
  # 5. crossbar mapping of the fine-tuned one-shot networks
  densities="0.04 0.02 0.01"
  [[ "$model" == vgg11* ]] && densities="0.1 0.07 0.04 0.02 0.01"
  for d in $densities; do
    for s in 128 64 8; do
      [[ -f "$M/xbar/d$d-s$s.json" ]] && continue
      mkdir -p "$M/xbar"
      timed "$model xbar $d $s" "$BIN" xbar --checkpoint "$M/oneshot/d$d/checkpoint.safetensors" --size "$s" \
        --strategy none,compact,rcm,rcm-sym,rcm-slices,spara,best --threads "$THREADS" \
        --json "$M/xbar/d$d-s$s.json" >/dev/null
    done
  done
done
rm -f "$OUT/times.now" "$OUT/cpu.before" "$OUT/cpu.after"
python3 "$(dirname "$0")/trained_networks_report.py" "$OUT" $MODELS
echo "results: $OUT/results.md"
