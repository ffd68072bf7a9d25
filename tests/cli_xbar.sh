#!/usr/bin/env bash
# `stuckat xbar`: bad input exits 2 with exactly one stderr line naming the file or flag; a good
# run writes the table (stating the rows = inputs convention), JSON, CSV and PNG.
# Usage: cli_xbar.sh path/to/stuckat
set -u
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# shellcheck source=cli_expect.sh
source "$(dirname "$0")/cli_expect.sh"
check() {  # check NAME CONDITION...
  local name="$1"
  shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $name"; fi
}

good="$tmp/good.mtx"
printf '%%%%MatrixMarket matrix coordinate real general\n4 4 3\n1 1 1.5\n2 4 2\n4 2 -1\n' >"$good"
printf '%%%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n' >"$tmp/header.mtx"
expect "bad .mtx header" "header.mtx" -- "$bin" xbar --matrix "$tmp/header.mtx"
printf '%%%%MatrixMarket matrix coordinate real general\n2 2 1\n1 3 1.0\n' >"$tmp/range.mtx"
expect ".mtx index out of range" "range.mtx" -- "$bin" xbar --matrix "$tmp/range.mtx"
printf '%%%%MatrixMarket matrix coordinate real general\n2 2 2\n1 2 1.0\n1 2 5.0\n' >"$tmp/dup.mtx"
expect ".mtx duplicate entry" "duplicate entry (1, 2)" -- "$bin" xbar --matrix "$tmp/dup.mtx"
printf '%%%%MatrixMarket matrix coordinate real general\n2 2 x\n' >"$tmp/size.mtx"
expect ".mtx bad size line" "size.mtx" -- "$bin" xbar --matrix "$tmp/size.mtx"
expect "missing matrix file" "nowhere.mtx" -- "$bin" xbar --matrix "$tmp/nowhere.mtx"
printf 'not numpy' >"$tmp/bad.npy"
expect "bad .npy" "bad.npy" -- "$bin" xbar --matrix "$tmp/bad.npy"
expect "unknown matrix format" "--matrix" -- "$bin" xbar --matrix "$tmp/m.txt"
expect "S = 0" "--size" -- "$bin" xbar --matrix "$good" --size 0
expect "bad rectangle" "--rect" -- "$bin" xbar --matrix "$good" --rect 8x0
expect "unknown strategy" "unknown strategy 'magic'" -- "$bin" xbar --matrix "$good" --strategy none,magic
expect "no source" "exactly one source" -- "$bin" xbar
expect "two sources" "exactly one source" -- "$bin" xbar --matrix "$good" --model lenet5
expect "bad density" "--density" -- "$bin" xbar --model lenet5 --density 0
expect "density with a matrix" "--density, --seed and --prune-scope apply to --model alone" -- "$bin" xbar --matrix "$good" --density 0.5
expect "bad prune scope" "--prune-scope must be global or layer" -- "$bin" xbar --model lenet5 --density 0.5 --prune-scope model
expect "unknown model" "unknown model" -- "$bin" xbar --model lenet7
expect "bad device" "--device" -- "$bin" xbar --matrix "$good" --device tpu
if ! command -v nvidia-smi >/dev/null 2>&1; then
  expect "cuda without a GPU" "--device cuda" -- "$bin" xbar --matrix "$good" --device cuda
fi
expect "unwritable json" "--json" -- "$bin" xbar --matrix "$good" --json "$tmp/no/such/dir/out.json"

# A good run: LeNet-5 dense at S = 128 is 9 tiles (1 + 2 + 4 + 1 + 1).
"$bin" xbar --model lenet5 --size 128 --json "$tmp/r.json" --csv "$tmp/r.csv" --png "$tmp/r.png" >"$tmp/out" 2>"$tmp/err"
check "good run exits 0" [ $? -eq 0 ]
check "table states the convention" grep -qF "rows = inputs" "$tmp/out"
check "table says layouts were verified" grep -qF "every layout verified" "$tmp/out"
check "png written" test -s "$tmp/r.png"
check "csv has 5 layers + total + header" [ "$(wc -l <"$tmp/r.csv")" -eq 7 ]
check "json schema and 9 tiles" /usr/bin/python3 -c "
import json, sys
r = json.load(open('$tmp/r.json'))
assert r['size'] == 128
assert [l['tiles'] for l in r['layers']] == [1, 2, 4, 1, 1]
for key in ['name', 'rows', 'cols', 'density', 'tiles', 'nonzero_tiles', 'nonzero_col_segments', 'col_segments',
            'nonzero_row_segments', 'row_segments', 'strategies']:
    assert key in r['layers'][0], key
assert r['total']['tiles'] == 9
for s in ['none', 'compact', 'rcm', 'rcm-sym', 'rcm-slices', 'spara', 'best']:
    assert set(r['total']['strategies'][s]) >= {'tiles_used', 'seconds'}, s
"
# A matrix file with rectangles and --no-verify.
"$bin" xbar --matrix "$good" --rect 2x3 --strategy none,best --no-verify >"$tmp/out" 2>"$tmp/err"
check "matrix run exits 0" [ $? -eq 0 ]
check "matrix run says not verified" grep -qF "not verified" "$tmp/out"

echo "cli_xbar: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
