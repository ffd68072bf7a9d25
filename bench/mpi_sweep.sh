#!/usr/bin/env bash
# Distributed sweeps on this machine: sweep points/s of LeNet-5 on the 10k Fashion-MNIST test
# images (641 points) for 1 process x 1 thread, 1 process x 2 threads and mpirun -n 2 x 1 thread;
# then rank 0's coordination cost per unit and per row (STUCKAT_QUEUE_STATS=1) with 2 to 32 ranks
# oversubscribed on a tiny model (64 synthetic images, 3201 points), for the weak-scaling estimate.
# Usage: bench/mpi_sweep.sh build/bin/stuckat
set -euo pipefail
bin="$1"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" train --model lenet5 --epochs 1 --seed 0 --out "$tmp/run" >/dev/null 2>&1
grid=(--layers all --bits 0-15 --stuck 0,1 --rates 0.01,0.05 --seeds 0-1)
rate() { sed -n 's/.*(\([0-9.]*\) points\/s.*/\1/p'; }
echo "LeNet-5 sweep, 641 points, 10k test images, points/s (best of 2):"
for setup in "1x1" "1x2" "mpi2x1"; do
  best=0
  for _ in 1 2; do
    rm -f "$tmp/s.csv"
    case $setup in
      1x1) r=$("$bin" sweep --checkpoint "$tmp/run/checkpoint.safetensors" "${grid[@]}" --threads 1 --out "$tmp/s.csv" 2>/dev/null | rate) ;;
      1x2) r=$("$bin" sweep --checkpoint "$tmp/run/checkpoint.safetensors" "${grid[@]}" --threads 2 --out "$tmp/s.csv" 2>/dev/null | rate) ;;
      mpi2x1) r=$(mpirun --oversubscribe -n 2 "$bin" sweep --checkpoint "$tmp/run/checkpoint.safetensors" "${grid[@]}" --threads 1 \
                  --out "$tmp/s.csv" 2>/dev/null | rate) ;;
    esac
    best=$(python3 -c "print(max($best, $r))")
  done
  echo "  $setup: $best"
done
"$bin" train --model lenet5 --data synthetic --limit-train 256 --limit-test 64 --epochs 1 --out "$tmp/tiny" >/dev/null 2>&1
echo "Coordination on rank 0, tiny model (64 images), 3201 points:"
for n in 2 4 8 16 32; do
  rm -f "$tmp/w.csv"
  STUCKAT_QUEUE_STATS=1 mpirun --oversubscribe -n $n -x STUCKAT_QUEUE_STATS "$bin" sweep --checkpoint "$tmp/tiny/checkpoint.safetensors" \
    --data synthetic --limit-test 64 --threads 1 --layers all --bits 0-15 --stuck 0,1 --rates 0.01,0.1 --seeds 0-9 \
    --out "$tmp/w.csv" 2>&1 | python3 -c "
import re, sys
t = sys.stdin.read()
m = re.search(r'work queue: (\d+) units over (\d+) ranks, coordinator busy ([0-9.]+) s', t)
p = re.search(r'\(([0-9.]+) points/s', t)
units, ranks, busy = int(m.group(1)), int(m.group(2)), float(m.group(3))
print(f'  {ranks:>2} ranks: {units:>4} units, {1e6 * busy / units:8.1f} us per unit, {1e6 * busy / 3201:6.2f} us per row, '
      f'{p.group(1)} points/s')
"
done
