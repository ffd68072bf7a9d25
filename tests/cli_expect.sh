# Shared by the CLI test scripts (sourced after they set bin, tmp, pass=0 and fail=0).
# expect NAME NEEDLE -- command...: the command must exit 2 with exactly one stderr line that
# contains NEEDLE (the offending file or flag); counts into pass/fail.
expect() {
  local name="$1" needle="$2"
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local code=$? lines
  lines=$(wc -l <"$tmp/err")
  if [ "$code" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qF -- "$needle" "$tmp/err"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL $name: exit $code, $lines stderr lines, expected '$needle' in:"
    cat "$tmp/err"
  fi
}
