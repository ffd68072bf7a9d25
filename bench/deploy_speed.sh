#!/usr/bin/env bash
# `stuckat deploy` speed on this machine:
#  1. fault-aware placement of VGG19 (every layer, dense: 9,978 logical tiles) at 128 x 128 cells,
#     2 bits per cell, 1% of cells stuck: the placement's own seconds (from --json) and the whole
#     command's wall time, 1 and 2 threads, best of 3;
#  2. the deploy evaluation of 10 chips on LeNet-5 (10k Fashion-MNIST test images, `none` layout,
#     naive and fault-aware): chips/s beside the sweep's points/s on the same checkpoint and
#     images: points that fault the first layer at rate 0.5 (every channel changes, so each
#     point reruns the whole network, as a chip does), and for scale the sweep's cheaper points
#     (conv1 at 1%: unchanged words and channels skipped; the 641-point all-layer grid: later
#     layers reuse the clean prefix).
# Usage: bench/deploy_speed.sh build/bin/stuckat
set -euo pipefail
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_WAIT_POLICY=PASSIVE
"$bin" train --model vgg19 --data synthetic --resize 32 --channels 3 --limit-train 128 --limit-test 100 --epochs 1 \
  --threads 2 --out "$tmp/vgg19" >/dev/null 2>&1
echo "VGG19, 128x128 cells, b = 2, rate=0.01 (1.75:9.04), fault-aware placement (best of 3):"
for th in 1 2; do
  best_place=1e9 best_wall=1e9
  for _ in 1 2 3; do
    start=$(date +%s.%N)
    "$bin" deploy --checkpoint "$tmp/vgg19/checkpoint.safetensors" --data synthetic --resize 32 --channels 3 --limit-test 100 \
      --threads "$th" --size 128 --cell-bits 2 --placement fault-aware --json "$tmp/v.json" >/dev/null
    wall=$(python3 -c "import time; print(time.time() - $start)")
    place=$(python3 -c "import json; print(json.load(open('$tmp/v.json'))['results'][0]['placement_seconds'])")
    best_place=$(python3 -c "print(min($best_place, $place))")
    best_wall=$(python3 -c "print(min($best_wall, $wall))")
  done
  tiles=$(python3 -c "import json; print(json.load(open('$tmp/v.json'))['results'][0]['tiles_used'])")
  printf '  %d thread(s): %s tiles, placement %.2f s, whole command %.2f s\n' "$th" "$tiles" "$best_place" "$best_wall"
done

"$bin" train --model lenet5 --epochs 1 --seed 0 --threads 2 --out "$tmp/lenet" >/dev/null 2>&1
ck="$tmp/lenet/checkpoint.safetensors"
"$bin" deploy --checkpoint "$ck" --threads 2 --size 128 --cell-bits 2 --chip-seeds 0-9 --placement naive,fault-aware \
  --json "$tmp/d.json" >/dev/null
chips() { python3 -c "
import json; r = [x for x in json.load(open('$tmp/d.json'))['results'] if x['placement'] == '$1']
print(len(r) / sum(x['evaluation_seconds'] for x in r))"; }
naive=$(chips naive)
aware=$(chips fault-aware)
rate() { sed -n 's/.*(\([0-9.]*\) points\/s.*/\1/p'; }
# A chip changes weights in every layer, so its evaluation runs the whole network; the sweep's
# points that do the same fault the first layer at a rate that changes every channel.
whole=$("$bin" sweep --checkpoint "$ck" --threads 2 --layers conv1 --bits 0-15 --stuck 0,1 --rates 0.5 --out "$tmp/s0.csv" 2>/dev/null | rate)
first=$("$bin" sweep --checkpoint "$ck" --threads 2 --layers conv1 --bits 0-15 --stuck 0,1 --rates 0.01 --out "$tmp/s1.csv" 2>/dev/null | rate)
all=$("$bin" sweep --checkpoint "$ck" --threads 2 --layers all --bits 0-15 --stuck 0,1 --rates 0.01,0.05 --seeds 0-1 \
  --out "$tmp/s2.csv" 2>/dev/null | rate)
echo "LeNet-5, 10k test images, 2 threads:"
python3 -c "
n, a, w, f, l = $naive, $aware, $whole, $first, $all
print(f'  deploy evaluation, 10 chips: naive {n:.1f} chips/s, fault-aware {a:.1f} chips/s')
print(f'  sweep points that rerun the whole network (conv1, rate 0.5, 33 points): {w:.1f} points/s')
print(f'  -> deploy/sweep: naive {n / w:.2f}x, fault-aware {a / w:.2f}x')
print(f'  sweep, conv1 at rate 0.01 (points skip unchanged words and channels): {f:.1f} points/s')
print(f'  sweep, all layers (641 points, clean prefix reused): {l:.1f} points/s')"
