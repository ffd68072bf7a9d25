#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang + ASan + UBSan) and runs each on a seed corpus
# (bench/fuzz/seeds.py) for FUZZ_RUNS executions or FUZZ_SECONDS seconds, whichever ends first;
# prints one line per target (executions, exec/s, peak RSS, result) and exits 1 on any finding.
# A finding (crash, leak, UB, timeout, out-of-memory) leaves its input in $BUILD/findings/.
# Usage: bench/fuzz/run.sh [BUILD_DIR]   env: FUZZ_RUNS (default 1000000), FUZZ_SECONDS (default 600),
#        FUZZ_TARGETS (default: all), FUZZ_RSS_MB (default 2048)
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-fuzz}
runs=${FUZZ_RUNS:-1000000}
seconds=${FUZZ_SECONDS:-600}
rss=${FUZZ_RSS_MB:-2048}
targets=${FUZZ_TARGETS:-"idx cifar safetensors mtx npy fault_spec sweep_csv metrics onnx"}
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang libfuzzer-14-dev)" >&2; exit 2; }
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTUCKAT_FUZZ=ON -DSTUCKAT_CUDA=OFF \
  -DSTUCKAT_TESTS=OFF -DSTUCKAT_BENCH=OFF >"$build.configure.log" 2>&1 || { tail -20 "$build.configure.log"; exit 2; }
cmake --build "$build" -j"$(nproc)" --target $(for t in $targets; do echo "fuzz_$t"; done) >"$build.build.log" 2>&1 ||
  { grep -E "error" "$build.build.log" | head -20; exit 2; }
rm -rf "$build/corpus" && python3 bench/fuzz/seeds.py "$build/corpus"
mkdir -p "$build/findings"
status=0
passed=0
failed=0
printf '%-12s %12s %10s %10s  %s\n' target executions exec/s peak_MB result
for t in $targets; do
  log="$build/fuzz_$t.log"
  mkdir -p "$build/corpus/$t"
  # The seeds stay read-only; new inputs go to a scratch corpus that starts from them.
  work="$build/work/$t"
  rm -rf "$work" && mkdir -p "$work"
  "$build/bin/fuzz_$t" "$work" "$build/corpus/$t" -runs="$runs" -max_total_time="$seconds" -rss_limit_mb="$rss" \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$build/findings/${t}-" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
  peak=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$')
  if [[ $rc -eq 0 ]]; then
    result=ok
    passed=$((passed + 1))
  else
    result="FINDING (exit $rc, see $log)"
    status=1
    failed=$((failed + 1))
  fi
  printf '%-12s %12s %10s %10s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${peak:-?}" "$result"
  [[ $rc -eq 0 ]] || grep -m3 -E "ERROR|SUMMARY|runtime error" "$log"
done
echo "fuzz: $passed passed, $failed failed"
exit $status
