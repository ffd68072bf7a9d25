#!/usr/bin/env bash
# `stuckat deploy` end to end on a small pruned LeNet-5 (synthetic data):
#  - with 1 bit per cell the masks it writes, given to `eval --fault-masks`, give its accuracies;
#  - with 16 bits per cell its tile counts are `xbar`'s for the same strategies and tile size;
#  - fault-aware placement changes at most half the weights naive placement changes, and its
#    squared error is lower (1% of cells stuck, 2 bits per cell);
#  - a chip written by --chip-map-out and read by --chip-map gives the drawn chip's results;
#  - --sensitivity reports a weighted error apart from the squared error (equal without it);
#  - --chip-seeds' summary (mean, sd, min, max over chips) matches the rows; --rect = --size;
#  - --json / --placement-out hold what they document; bad flags and maps: one sentence, exit 2.
# Usage: cli_deploy.sh path/to/stuckat
set -u
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() {  # check NAME CONDITION...
  local name="$1"
  shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
syn=(--data synthetic --limit-train 512 --limit-test 256 --threads 2)
"$bin" train --model lenet5 "${syn[@]}" --epochs 2 --out "$tmp/run" >/dev/null 2>&1 || { echo "FAIL: training"; exit 1; }
"$bin" prune --checkpoint "$tmp/run/checkpoint.safetensors" --method oneshot --density 0.1 "${syn[@]}" --out "$tmp/p" >/dev/null 2>&1 ||
  { echo "FAIL: pruning"; exit 1; }
ck="$tmp/p/checkpoint.safetensors"

"$bin" deploy --checkpoint "$ck" "${syn[@]}" --size 64 --cell-bits 1 --chip "rate=0.005,sa=1:3,seed=4" --layout none,compact \
  --masks-out "$tmp/masks" --json "$tmp/b1.json" --placement-out "$tmp/placements" >"$tmp/b1.txt" 2>"$tmp/b1.err"
check "deploy --cell-bits 1 exits 0" test $? -eq 0
same_as_eval() {  # every result's accuracy = eval with its masks
  python3 - "$1" "$bin" "$ck" "${syn[@]}" <<'PY'
import json, subprocess, sys
report = json.load(open(sys.argv[1]))
ok = True
for r in report["results"]:
    out = subprocess.run([sys.argv[2], "eval", "--checkpoint", sys.argv[3], "--quant", "q4.11", "--fault-masks", r["masks"]]
                         + sys.argv[4:], capture_output=True, text=True)
    acc = json.loads(out.stdout)["test_acc"]
    if acc != r["test_acc"]:
        print(f"{r['layout']} {r['placement']}: deploy {r['test_acc']} vs eval --fault-masks {acc}")
        ok = False
sys.exit(0 if ok and len(report["results"]) == 4 else 1)
PY
}
check "b = 1: eval --fault-masks with deploy's masks gives deploy's accuracies" same_as_eval "$tmp/b1.json"
check "--json fields" python3 -c "
import json, sys
d = json.load(open('$tmp/b1.json'))
keys = {'layout', 'placement', 'chip_seed', 'cell_bits', 'tiles_used', 'spares_used', 'stuck_cells_under_weights',
        'weights_changed', 'zero_to_nonzero', 'squared_error', 'test_acc'}
sys.exit(0 if 'clean_test_acc' in d and all(keys <= set(r) for r in d['results']) else 1)"
check "--placement-out: every layer's tiles" python3 -c "
import json, glob, sys
files = glob.glob('$tmp/placements/*.json')
d = json.load(open(sorted(files)[0]))
sys.exit(0 if len(files) == 4 and len(d['layers']) == 5 and all(len(t['wordlines']) == len(t['matrix_rows']) for l in d['layers'] for t in l['tiles']) else 1)"

# 16 bits per cell: xbar's tile counts.
"$bin" deploy --checkpoint "$ck" "${syn[@]}" --size 64x32 --cell-bits 16 --chip "rate=0.01,seed=0" --layout none,compact,rcm,rcm-sym,rcm-slices,spara,best \
  --placement naive --json "$tmp/b16.json" >/dev/null 2>&1
"$bin" xbar --checkpoint "$ck" --size 64x32 --strategy none,compact,rcm,rcm-sym,rcm-slices,spara,best --json "$tmp/x.json" >/dev/null 2>&1
check "b = 16: xbar's tile counts" python3 -c "
import json, sys
d = json.load(open('$tmp/b16.json')); x = json.load(open('$tmp/x.json'))
got = {r['layout']: r['tiles_used'] for r in d['results']}
want = {s: v['tiles_used'] for s, v in x['total']['strategies'].items()}
sys.exit(0 if got == want else print(got, want) or 1)"

# Fault-aware against naive at 1% of cells, 2 bits per cell.
"$bin" deploy --checkpoint "$ck" "${syn[@]}" --size 64 --cell-bits 2 --chip "rate=0.01,sa=1.75:9.04,seed=1" --json "$tmp/b2.json" \
  >/dev/null 2>&1
check "fault-aware: at most half the changed weights, less squared error" python3 -c "
import json, sys
r = {x['placement']: x for x in json.load(open('$tmp/b2.json'))['results']}
n, a = r['naive'], r['fault-aware']
sys.exit(0 if n['weights_changed'] > 0 and a['weights_changed'] <= n['weights_changed'] / 2 and a['squared_error'] < n['squared_error'] else 1)"

# A chip written with --chip-map-out and read back with --chip-map: the same results.
"$bin" deploy --checkpoint "$ck" "${syn[@]}" --size 64 --cell-bits 2 --chip "rate=0.02,sa=1:1,seed=6" --layout none,best \
  --spare-tiles 2 --json "$tmp/drawn.json" --chip-map-out "$tmp/chip.safetensors" >/dev/null 2>&1
"$bin" deploy --checkpoint "$ck" "${syn[@]}" --size 64 --cell-bits 2 --chip-map "$tmp/chip.safetensors" --layout none,best \
  --spare-tiles 2 --json "$tmp/mapped.json" >/dev/null 2>&1
check "--chip-map of --chip-map-out: the drawn chip's results" python3 -c "
import json, sys
a = json.load(open('$tmp/drawn.json'))['results']; b = json.load(open('$tmp/mapped.json'))['results']
strip = lambda r: {k: v for k, v in r.items() if k not in ('chip_seed', 'placement_seconds', 'evaluation_seconds')}
sys.exit(0 if len(a) == 4 and [strip(r) for r in a] == [strip(r) for r in b] else 1)"
# --chip-seeds: the summary's mean, spread and extremes are those of the chips' rows; --rect RxC
# is --size RxC.
"$bin" deploy --checkpoint "$ck" "${syn[@]}" --rect 64x64 --cell-bits 2 --chip "rate=0.02,sa=1:1" --chip-seeds 0-3 --layout none \
  --json "$tmp/seeds.json" >"$tmp/seeds.txt" 2>&1
"$bin" deploy --checkpoint "$ck" "${syn[@]}" --size 64 --cell-bits 2 --chip "rate=0.02,sa=1:1" --chip-seeds 0-3 --layout none \
  --json "$tmp/seeds_size.json" >/dev/null 2>&1
check "--chip-seeds 0-3: summary = mean, sd, min, max of the rows; --rect = --size" python3 -c "
import json, statistics, sys
d = json.load(open('$tmp/seeds.json')); e = json.load(open('$tmp/seeds_size.json'))
ok = len(d['summary']) == 2 and [r['test_acc'] for r in d['results']] == [r['test_acc'] for r in e['results']]
for s in d['summary']:
    acc = [r['test_acc'] for r in d['results'] if r['placement'] == s['placement']]
    ok &= s['chips'] == 4 and abs(s['test_acc_mean'] - statistics.mean(acc)) < 1e-12
    ok &= abs(s['test_acc_sd'] - statistics.stdev(acc)) < 1e-12 and s['test_acc_min'] == min(acc) and s['test_acc_max'] == max(acc)
sys.exit(0 if ok else 1)"
check "--chip-seeds 0-3: the summary printed" grep -q "over 4 chips" "$tmp/seeds.txt"

# --sensitivity: the fault-aware damage weighs each weight by its squared gradient; without it
# the weighted error is the squared error.
"$bin" deploy --checkpoint "$ck" "${syn[@]}" --size 64 --cell-bits 2 --chip "rate=0.02,sa=1:1,seed=6" --layout none \
  --placement fault-aware --sensitivity 64 --json "$tmp/sens.json" >/dev/null 2>&1
check "--sensitivity 64: weighted error reported, differs from the squared error" python3 -c "
import json, sys
s = json.load(open('$tmp/sens.json')); d = json.load(open('$tmp/drawn.json'))
r = s['results'][0]
plain = [x for x in d['results'] if x['layout'] == 'none' and x['placement'] == 'fault-aware'][0]
sys.exit(0 if s['sensitivity_images'] == 64 and r['weighted_error'] > 0 and abs(r['weighted_error'] - r['squared_error']) > 1e-9
         and plain['weighted_error'] == plain['squared_error'] else 1)"
printf 'not a chip' >"$tmp/junk.safetensors"
for bad in "--chip-map $tmp/junk.safetensors" "--chip-map $tmp/chip.safetensors --size 32" \
  "--chip-map $tmp/chip.safetensors --chip rate=0.01" "--chip-map $tmp/chip.safetensors --spare-tiles 100" \
  "--chip-map-out $tmp/x.safetensors --chip-seeds 0-3" "--chip rate=2" "--chip rate=0.1,hrs=0.1" "--cell-bits 3" \
  "--size 4 --cell-bits 1" "--rect 64x4 --cell-bits 1" "--placement clever" "--spare-tiles -1" "--sensitivity -1"; do
  read -r -a words <<<"$bad"
  "$bin" deploy --checkpoint "$ck" "${syn[@]}" "${words[@]}" >/dev/null 2>"$tmp/bad.err"
  code=$?
  check "deploy ${bad//$tmp\//}: exit 2, one sentence" test $code -eq 2 -a "$(wc -l <"$tmp/bad.err")" -eq 1
done

echo "cli_deploy: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
