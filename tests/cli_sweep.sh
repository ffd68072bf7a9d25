#!/usr/bin/env bash
# `stuckat sweep` and `stuckat plot` end to end on a small synthetic checkpoint: shards merged by
# index equal the full sweep with no duplicates; a sweep killed mid-row (partial last line) and
# resumed writes the same CSV as an uninterrupted one; plot writes PNGs; bad flags exit 2.
# Usage: cli_sweep.sh path/to/stuckat
set -u
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
data=(--data synthetic --limit-test 64 --threads 2)
"$bin" train --model lenet5 "${data[@]}" --limit-train 128 --batch 32 --epochs 1 --out "$tmp/ckpt" >/dev/null 2>&1 ||
  { echo "FAIL: training the checkpoint"; exit 1; }
grid=(--checkpoint "$tmp/ckpt/checkpoint.safetensors" --layers conv2,fc1,fc3 --bits 14,15 --stuck 0,1 --rates 0.05,0.2
      --seeds 0-1 "${data[@]}" --batch 16)
"$bin" sweep "${grid[@]}" --out "$tmp/full.csv" >"$tmp/summary.txt" 2>/dev/null || { echo "FAIL: full sweep"; fail=1; }
rows=$(($(wc -l <"$tmp/full.csv") - 1))
[ "$rows" -eq 49 ] || { echo "FAIL: full sweep has $rows rows, expected 1 baseline + 3*2*2*2*2 = 49"; fail=1; }
grep -q "baseline" "$tmp/summary.txt" || { echo "FAIL: no summary table on stdout"; fail=1; }

for i in 0 1 2; do
  "$bin" sweep "${grid[@]}" --shard "$i/3" --out "$tmp/shard$i.csv" >/dev/null 2>&1 || { echo "FAIL: shard $i"; fail=1; }
done
tail -q -n +2 "$tmp"/shard*.csv | sort -t, -k1,1n >"$tmp/merged.txt"
[ "$(cut -d, -f1 "$tmp/merged.txt" | sort -n | uniq -d | wc -l)" -eq 0 ] || { echo "FAIL: shards overlap"; fail=1; }
tail -n +2 "$tmp/full.csv" | cmp -s - "$tmp/merged.txt" || { echo "FAIL: merged shards differ from the full sweep"; fail=1; }

"$bin" sweep "${grid[@]}" --max-points 20 --out "$tmp/killed.csv" >/dev/null 2>&1 || { echo "FAIL: first part"; fail=1; }
printf '20,lenet5,fc1,15,0,0.0' >>"$tmp/killed.csv"  # killed while writing a row
"$bin" sweep "${grid[@]}" --out "$tmp/killed.csv" >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: an existing --out without --resume should exit 2"; fail=1; }
"$bin" sweep "${grid[@]}" --resume --out "$tmp/killed.csv" >/dev/null 2>&1 || { echo "FAIL: resume"; fail=1; }
cmp -s "$tmp/full.csv" "$tmp/killed.csv" || { echo "FAIL: resumed sweep differs from the uninterrupted one"; fail=1; }
"$bin" sweep "${grid[@]/14,15/3}" --resume --out "$tmp/killed.csv" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "resume" "$tmp/err" || { echo "FAIL: resume with another grid should exit 2"; fail=1; }

"$bin" plot "$tmp/full.csv" >"$tmp/plots.txt" 2>&1 || { echo "FAIL: plot"; fail=1; }
[ "$(wc -l <"$tmp/plots.txt")" -eq 8 ] || { echo "FAIL: expected 4 bit charts and 4 rate charts"; cat "$tmp/plots.txt"; fail=1; }
while read -r png; do
  [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { echo "FAIL: $png is not a PNG"; fail=1; }
done <"$tmp/plots.txt"

"$bin" plot "$tmp/full.csv" --charts bits --prefix "$tmp/only" >"$tmp/bits.txt" 2>&1 || { echo "FAIL: plot --charts bits"; fail=1; }
[ "$(grep -c "_bits_" "$tmp/bits.txt")" -eq 4 ] && [ "$(wc -l <"$tmp/bits.txt")" -eq 4 ] ||
  { echo "FAIL: --charts bits should write the 4 bit charts only"; fail=1; }

# Curves from metrics.jsonl files: one PNG; a file without epochs, a mix with a CSV, or no --out exit 2.
printf '{"epoch":1,"train_loss":0.9}\n{"epoch":2,"train_loss":0.5}\n' >"$tmp/a.jsonl"
printf '{"epoch":1,"train_loss":1.2}\n{"epoch":2,"train_loss":0.7}\n' >"$tmp/b.jsonl"
"$bin" plot "$tmp/a.jsonl" "$tmp/b.jsonl" --names a,b --key train_loss --out "$tmp/loss.png" >/dev/null 2>&1 ||
  { echo "FAIL: plot curves"; fail=1; }
[ "$(head -c 8 "$tmp/loss.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { echo "FAIL: loss.png is not a PNG"; fail=1; }
printf '{"loss":1}\n' >"$tmp/bad.jsonl"
for bad in "$tmp/bad.jsonl --out $tmp/x.png" "$tmp/a.jsonl $tmp/full.csv --out $tmp/x.png" "$tmp/a.jsonl" \
           "$tmp/a.jsonl --names a,b --out $tmp/x.png" "$tmp/a.jsonl --key nothing --out $tmp/x.png" \
           "$tmp/full.csv --out $tmp/x.png" "$tmp/full.csv --title t" "$tmp/a.jsonl --out $tmp/x.png --prefix $tmp/p"; do
  # shellcheck disable=SC2086
  "$bin" plot $bad >/dev/null 2>"$tmp/err"
  [ $? -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] || { echo "FAIL: plot $bad should exit 2 with one line"; cat "$tmp/err"; fail=1; }
done

for bad in "--bits 16" "--cache-gb -1" "--pass-gb 0" "--stuck 2" "--rates 0" "--layers fc9" "--shard 3/3" "--formats none"; do
  # shellcheck disable=SC2086
  "$bin" sweep "${grid[@]}" $bad --out "$tmp/bad.csv" >/dev/null 2>&1
  [ $? -eq 2 ] || { echo "FAIL: sweep $bad should exit 2"; fail=1; }
done
if [ "$fail" -eq 0 ]; then echo "cli_sweep: 1 passed, 0 failed"; else echo "cli_sweep: 0 passed, 1 failed"; fi
exit "$fail"
