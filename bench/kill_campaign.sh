#!/usr/bin/env bash
# Kill -9 campaign: each job below runs once uninterrupted, then TRIALS times killed with SIGKILL
# at a random moment (uniform over 1.5 x the uninterrupted run's time) and resumed, killed again
# the same way, until it finishes. Each trial must end with the uninterrupted run's files byte for
# byte (checkpoints, sweep CSV, reports; metrics.jsonl rows without their timing fields), so no
# row is lost or repeated, and with no *.tmp left behind. Prints one line per job and "N passed, M failed".
# Usage: bench/kill_campaign.sh path/to/stuckat [TRIALS (default 10)]
set -u
bin="$(realpath "$1")"
trials=${2:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=(--data synthetic --limit-train 512 --limit-test 256 --threads 2)
passed=0
failed=0
RANDOM=7  # reproducible kill times

# The jobs: NAME, the output to compare, the command (OUT is replaced by the output folder/file).
"$bin" train --model lenet5 "${data[@]}" --epochs 2 --out "$tmp/base" >/dev/null 2>&1 || { echo "fixture failed"; exit 1; }
ck="$tmp/base/checkpoint.safetensors"
jobs=(
  "train|checkpoint.safetensors metrics.jsonl train_state.safetensors|train --model lenet5 ${data[*]} --epochs 4 --momentum 0.9 --out OUT"
  "sweep|sweep.csv|sweep --checkpoint $ck ${data[*]} --layers all --bits 7,14,15 --stuck 0,1 --rates 0.05 --seeds 0-2 --out OUT/sweep.csv"
  "prune-oneshot|checkpoint.safetensors report.json|prune --checkpoint $ck --method oneshot --density 0.2 --epochs 3 ${data[*]} --out OUT"
  "prune-lth|checkpoint.safetensors report.json rounds.jsonl|prune --checkpoint $ck --method lth --rounds 3 --rate 0.3 --epochs 1 ${data[*]} --out OUT"
  "prune-ssl|checkpoint.safetensors report.json|prune --checkpoint $ck --method ssl --lambda-filter 1e-3 --epochs 3 ${data[*]} --out OUT"
)
for spec in "${jobs[@]}"; do
  IFS='|' read -r name files cmd <<<"$spec"
  ref="$tmp/$name-ref"
  mkdir -p "$ref"
  # shellcheck disable=SC2086
  "$bin" ${cmd//OUT/$ref} >/dev/null 2>&1 || { echo "$name: the uninterrupted run failed"; failed=$((failed + 1)); continue; }
  mkdir -p "$ref.timed"
  start=$(date +%s%N)
  "$bin" ${cmd//OUT/$ref.timed} >/dev/null 2>&1
  ms=$((($(date +%s%N) - start) / 1000000))
  ok=0 kills=0 bad=""
  for ((t = 0; t < trials; ++t)); do
    out="$tmp/$name-$t"
    mkdir -p "$out"
    resume=""
    for ((attempt = 0; attempt < 50; ++attempt)); do
      # shellcheck disable=SC2086
      "$bin" ${cmd//OUT/$out} $resume >/dev/null 2>&1 &
      pid=$!
      sleep "$(awk -v r=$RANDOM -v ms="$ms" 'BEGIN { printf "%.3f", (r / 32768.0) * 1.5 * ms / 1000 }')"
      kill -9 "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
      code=$?
      [[ $code -eq 137 ]] && kills=$((kills + 1))  # killed while running (not after it finished)
      resume="--resume"
      [[ $code -eq 0 ]] && break
    done
    # shellcheck disable=SC2086
    "$bin" ${cmd//OUT/$out} --resume >/dev/null 2>&1 || { bad="$bad trial $t: the last resume failed;"; continue; }
    same=1
    for f in $files; do
      if [[ $f == *.jsonl ]]; then  # per-epoch rows carry timings (images/s, seconds): compare the rest
        python3 - "$ref/$f" "$out/$f" <<'PY' || { same=0; bad="$bad trial $t: $f differs;"; }
import json, re, sys
rows = [[{k: v for k, v in json.loads(l).items() if not re.search("per_s|seconds", k)} for l in open(p) if l.strip()]
        for p in sys.argv[1:]]
sys.exit(0 if rows[0] == rows[1] else 1)
PY
      else
        cmp -s "$ref/$f" "$out/$f" || { same=0; bad="$bad trial $t: $f differs;"; }
      fi
    done
    if find "$out" -name '*.tmp' | grep -q .; then same=0; bad="$bad trial $t: a .tmp file was left;"; fi
    ((same)) && ok=$((ok + 1))
  done
  echo "$name: $ok of $trials trials byte-identical after $kills kills (uninterrupted run ${ms} ms)${bad:+; FAIL:$bad}"
  if [[ $ok -eq $trials ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "kill_campaign: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
