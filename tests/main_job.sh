#!/usr/bin/env bash
# scripts/main_job.sh end to end on a small synthetic set (the README's first command runs it on
# Fashion-MNIST): every step succeeds, REPORT.md has its sections and names its pictures, the
# files hold the values they should (row counts, accuracies, tile totals, the pruned density), and
# a second run resumes without redoing anything.
# Usage: main_job.sh path/to/scripts/main_job.sh path/to/stuckat
set -u
script="$1"
bin="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/build/bin" && ln -s "$(realpath "$bin")" "$tmp/build/bin/stuckat"
fail=0
export EPOCHS=1 THREADS=2 DATA_FLAGS="--data synthetic --limit-train 256 --limit-test 128"
bash "$script" "$tmp/build" "$tmp/out" >"$tmp/log" 2>&1 || { echo "FAIL: main job"; cat "$tmp/log"; fail=1; }
for section in "## 1. Training" "## 2. Stuck-at fault sweep" "## 3. Fault-aware fine-tuning" "## 4. Pruning" \
               "## 5. Crossbar mapping"; do
  grep -q "$section" "$tmp/out/REPORT.md" 2>/dev/null || { echo "FAIL: REPORT.md lacks '$section'"; fail=1; }
done
grep -o '([a-z0-9_./]*\.png)' "$tmp/out/REPORT.md" | tr -d '()' | while read -r png; do
  [ -f "$tmp/out/$png" ] || { echo "FAIL: REPORT.md names $png, which is missing"; exit 1; }
done || fail=1
# Values, not only titles: the sweep has the grid's 1 + 5 layers x 8 bits x 2 stuck x 2 rates rows
# with accuracies in [0, 1]; each tile count of the crossbar report adds up over the layers and
# matches the layer's own matrix size; pruning kept 10% of the weights; one metrics row per epoch.
python3 - "$tmp/out" <<'PY' || fail=1
import csv, json, math, sys
out = sys.argv[1]
bad = []
rows = list(csv.DictReader(open(f"{out}/sweep.csv")))
if len(rows) != 1 + 5 * 8 * 2 * 2: bad.append(f"sweep.csv has {len(rows)} rows, expected 161")
if sorted(int(r["index"]) for r in rows) != list(range(len(rows))): bad.append("sweep.csv indices are not 0..n-1")
for r in rows:
    acc = float(r["test_acc"])
    if not 0 <= acc <= 1: bad.append(f"sweep.csv point {r['index']}: test_acc {r['test_acc']}")
x = json.load(open(f"{out}/xbar.json"))
S = x["tile_rows"]
for key in ("tiles", "nonzero_tiles", "nnz", "col_segments", "row_segments"):
    if sum(l[key] for l in x["layers"]) != x["total"][key]: bad.append(f"xbar.json: layers' {key} do not add up to the total")
for l in x["layers"]:
    if l["tiles"] != math.ceil(l["rows"] / S) * math.ceil(l["cols"] / x["tile_cols"]): bad.append(f"xbar.json: {l['name']} tiles")
    if not 0 < l["nonzero_tiles"] <= l["tiles"]: bad.append(f"xbar.json: {l['name']} nonzero tiles")
p = json.load(open(f"{out}/prune.json"))["total"]
if abs(p["kept"] - round(0.1 * p["total"])) > 1: bad.append(f"prune.json kept {p['kept']} of {p['total']}, expected 10%")
m = [json.loads(l) for l in open(f"{out}/train/metrics.jsonl") if l.strip()]
if len(m) != 1 or not 0 <= m[0]["test_acc"] <= 1: bad.append("train/metrics.jsonl: expected one epoch with an accuracy")
for b in bad: print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
rows=$(($(wc -l <"$tmp/out/sweep.csv") - 1))
bash "$script" "$tmp/build" "$tmp/out" >"$tmp/log2" 2>&1 || { echo "FAIL: rerun"; cat "$tmp/log2"; fail=1; }
[ "$(($(wc -l <"$tmp/out/sweep.csv") - 1))" -eq "$rows" ] || { echo "FAIL: the rerun added sweep rows"; fail=1; }
grep -q "0 to run" "$tmp/log2" || { echo "FAIL: the rerun did not resume the sweep"; fail=1; }
if [ "$fail" -eq 0 ]; then echo "main_job: 1 passed, 0 failed"; else echo "main_job: 0 passed, 1 failed"; fi
exit "$fail"
