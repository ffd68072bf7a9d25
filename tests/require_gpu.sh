#!/usr/bin/env bash
# STUCKAT_REQUIRE_GPU=1 turns a [cuda] test's skip into a failure: without a usable GPU the test
# program must exit non-zero and name the reason; with one it must pass as it does without the
# variable. Usage: require_gpu.sh path/to/test_faults_cuda
set -u
bin="$1"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bin" "[cuda]" -s >"$out" 2>&1 || { echo "FAIL: $bin failed without STUCKAT_REQUIRE_GPU"; cat "$out"; exit 1; }
if grep -q "not checked" "$out"; then  # it skipped: no backend, no device, or a runtime error
  reason=$(grep -m1 "not checked" "$out")
  if STUCKAT_REQUIRE_GPU=1 "$bin" "[cuda]" >"$out" 2>&1; then
    echo "FAIL: STUCKAT_REQUIRE_GPU=1 still passed although the test skipped ($reason)"
    exit 1
  fi
  grep -q "STUCKAT_REQUIRE_GPU=1" "$out" || { echo "FAIL: the failure does not say why"; cat "$out"; exit 1; }
  echo "require_gpu: 1 passed, 0 failed (skip became a failure: $reason)"
else
  STUCKAT_REQUIRE_GPU=1 "$bin" "[cuda]" -w NoAssertions >"$out" 2>&1 || { echo "FAIL: with a GPU"; cat "$out"; exit 1; }
  echo "require_gpu: 1 passed, 0 failed (GPU present)"
fi
