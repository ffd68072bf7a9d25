#!/usr/bin/env bash
# scripts/main_job.sh end to end on a small synthetic set (the README's first command runs it on
# Fashion-MNIST): every step succeeds, REPORT.md has its three sections and names its pictures,
# and a second run resumes without redoing anything.
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
rows=$(($(wc -l <"$tmp/out/sweep.csv") - 1))
bash "$script" "$tmp/build" "$tmp/out" >"$tmp/log2" 2>&1 || { echo "FAIL: rerun"; cat "$tmp/log2"; fail=1; }
[ "$(($(wc -l <"$tmp/out/sweep.csv") - 1))" -eq "$rows" ] || { echo "FAIL: the rerun added sweep rows"; fail=1; }
grep -q "0 to run" "$tmp/log2" || { echo "FAIL: the rerun did not resume the sweep"; fail=1; }
if [ "$fail" -eq 0 ]; then echo "main_job: 1 passed, 0 failed"; else echo "main_job: 0 passed, 1 failed"; fi
exit "$fail"
