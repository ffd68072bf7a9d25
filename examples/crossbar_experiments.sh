#!/usr/bin/env bash
# Crossbar mapping experiments (docs/EXPERIMENTS.md, "Crossbar mapping"): VGG11/16/19 and
# ResNet-18, seeded (seed 0) and magnitude-pruned to 4%, 2% and 1% density, once with one global
# threshold and once per layer (--prune-scope), mapped onto 128x128, 64x64 and 8x8 tiles with
# every strategy (each layout verified). Writes OUT/tiles.csv (one row per model, scope, density
# and tile size: tiles in place, lower bound, tiles used per strategy, seconds) and occupancy
# pictures for VGG11 at 1% (both scopes, S = 128 and 8) and ResNet-18 at 2% per layer (S = 64).
# Usage: examples/crossbar_experiments.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, docs/experiments/crossbar)
# About 2 minutes on 2 cores.
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-docs/experiments/crossbar}
BIN="$BUILD/bin/stuckat"
[[ -x "$BIN" ]] || { echo "crossbar_experiments.sh: $BIN not found; build first (cmake --build $BUILD)" >&2; exit 2; }
mkdir -p "$OUT/runs"
strategies=none,compact,rcm,rcm-sym,rcm-slices,spara,best
for scope in global layer; do
  for model in vgg11 vgg16 vgg19 resnet18; do
    for d in 0.04 0.02 0.01; do
      for s in 128 64 8; do
        name="$model-$scope-d$d-s$s"
        png=()
        case "$model-$scope-$d-$s" in
          vgg11-*-0.01-128 | vgg11-*-0.01-8 | resnet18-layer-0.02-64) png=(--png "$OUT/$name.png") ;;
        esac
        "$BIN" xbar --model "$model" --density "$d" --seed 0 --prune-scope "$scope" --size "$s" \
          --strategy "$strategies" --json "$OUT/runs/$name.json" "${png[@]}" > "$OUT/runs/$name.txt"
      done
    done
    echo "== $scope $model done"
  done
done
python3 - "$OUT" "$strategies" <<'PY'
import csv, json, sys
from pathlib import Path
out, names = Path(sys.argv[1]), sys.argv[2].split(",")
rows = []
for scope in ("global", "layer"):
    for model in ("vgg11", "vgg16", "vgg19", "resnet18"):
        for d in ("0.04", "0.02", "0.01"):
            for s in ("128", "64", "8"):
                tot = json.loads((out / "runs" / f"{model}-{scope}-d{d}-s{s}.json").read_text())["total"]
                st = tot["strategies"]
                row = {"model": model, "scope": scope, "density": d, "size": s, "tiles": tot["tiles"],
                       "lower_bound": tot["lower_bound"]["tiles"]}
                row.update({k: st[k]["tiles_used"] for k in names})
                row["seconds"] = round(sum(st[k]["seconds"] for k in names), 3)
                rows.append(row)
with open(out / "tiles.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
wins = sum(1 for r in rows if r["best"] < min(r[k] for k in names if k != "best"))
print(f"{out / 'tiles.csv'}: {len(rows)} settings; best uses fewer tiles than every other strategy in {wins}")
for scope in ("global", "layer"):
    for s in ("128", "64", "8"):
        sel = [r for r in rows if r["scope"] == scope and r["size"] == s]
        n = sum(1 for r in sel if r["best"] < min(r[k] for k in names if k != "best"))
        print(f"  {scope:6} S={s:>3}: best strictly fewest in {n} of {len(sel)}")
PY
