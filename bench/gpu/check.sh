#!/usr/bin/env bash
# The GPU check, in one call on the device machine (nvcc, CMake and PyTorch there; no Debian
# packages, no network): builds the CUDA backend for sm_90 against the headers carried in .deps/
# (scripts/gather-device-deps.sh), runs every [cuda] test, then times LeNet-5 (28x28x1, batch
# 64), VGG11 and ResNet-18 (32x32x3, batch 128) training and evaluation for stuckat and for
# PyTorch eager fp32 on the same GPU, then the 100-point LeNet-5 fault sweep on the 10k
# Fashion-MNIST test images (`stuckat sweep --device cuda` vs bench/pytorch_sweep.py --device
# cuda, both batch 10000, checkpoint trained here on the CPU for one epoch), then crossbar
# counting and the compaction map on uniform sparse matrices of 1e6-1e8 nonzeros (bench_crossbar
# --gpu: checked equal to the CPU, kernel time and upload apart), and prints the tables last.
# Budget: under 8 minutes.
# Usage, from the repository root: bash bench/gpu/check.sh [build-dir]
# (CHECK_SECTIONS="tests train smoke sweep crossbar" picks sections, "sanitize" runs
# compute-sanitizer memcheck and racecheck over the [cuda] tests, "profile" adds a table of
# where the time goes, "sweepprobe" traces the sweep with and without its warm-up
# (STUCKAT_SWEEP_WARMUP) and, where nsys is installed, lists its kernels; CHECK_PREBUILT=1 runs
# binaries built by scripts/build-for-device.sh instead of building; results.jsonl and the logs
# land in $OUT on the device machine.)
set -uo pipefail
cd "$(dirname "$0")/../.."
t_start=$(date +%s)
build=${1:-build-device}
deps=$PWD/.deps/usr
secs=${STUCKAT_BENCH_SECONDS:-2}
# Sections to run (all by default); e.g. CHECK_SECTIONS="tests smoke" for a quick rerun.
sections=" ${CHECK_SECTIONS:-tests train smoke sweep crossbar} "
want() { [[ "$sections" == *" $1 "* ]]; }
# Results go straight to $OUT on the device machine, so a run cut short still returns them.
if [[ -n "${OUT:-}" && -d "${OUT:-}" ]]; then results=$OUT/results.jsonl; else results=$(mktemp); fi
: > "$results"
stamp() { echo "== [$(( $(date +%s) - t_start ))s] $*"; }
# On the device machine, $OUT comes back to the caller: leave the logs and the raw JSON there.
keep_logs() { [[ -n "${OUT:-}" && -d "${OUT:-}" ]] && cp "$build"/check.*.log "$OUT/" 2>/dev/null; true; }
trap keep_logs EXIT

# CHECK_PREBUILT=1: the binaries in $build/bin were built elsewhere for sm_90 (scripts/build-for-device.sh)
# and carried; configure and build are skipped (they take three minutes of device time).
prebuilt=${CHECK_PREBUILT:-0}
[[ $prebuilt == 1 || -d "$deps/include/fmt" ]] || { echo "check.sh: .deps/ is missing; run scripts/gather-device-deps.sh and carry .deps" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
nvcc --version | tail -1

cuda_tests=$(grep -l '\[cuda\]' tests/test_*.cpp | xargs -n1 basename | sed 's/\.cpp$//')
if [[ $prebuilt == 1 ]]; then
  [[ -x "$build/bin/stuckat" ]] || { echo "check.sh: CHECK_PREBUILT=1 but $build/bin/stuckat is missing" >&2; exit 2; }
  cuda_tests=$(for t in $cuda_tests; do [[ -x "$build/bin/$t" ]] && echo "$t"; done)
  stamp "prebuilt binaries in $build/bin: $(ls "$build/bin" | tr '\n' ' ')"
else
  stamp configure
  mkdir -p "$build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTUCKAT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DSTUCKAT_BLAS=OFF -DSTUCKAT_FMT_HEADER_ONLY=ON -DFMT_INCLUDE_DIR="$deps/include" \
    -DCMAKE_PREFIX_PATH="$deps" -DZLIB_INCLUDE_DIR="$deps/include" -DZLIB_LIBRARY="$deps/lib/libz.a" \
    -DSTUCKAT_TESTS=ON -DSTUCKAT_BENCH=ON > "$build/check.configure.log" 2>&1 \
    || { tail -40 "$build/check.configure.log"; echo "check.sh: configure failed" >&2; exit 1; }

  # Only the [cuda] test programs and the bench: the rest of the tree is checked by the CPU CI.
  stamp build: $cuda_tests bench_gpu_train bench_crossbar stuckat
  cmake --build "$build" -j"$(nproc)" --target $cuda_tests bench_gpu_train bench_crossbar stuckat > "$build/check.build.log" 2>&1 \
    || { grep -E "error|Error" "$build/check.build.log" | head -40; echo "check.sh: build failed" >&2; exit 1; }
fi

tests_ok=1
if want tests; then
stamp "[cuda] tests"
for t in $cuda_tests; do
  echo "-- $t"
  # A GPU is required here (a skip fails), and a test case without an assertion fails too.
  STUCKAT_REQUIRE_GPU=1 timeout 240 "$build/bin/$t" "[cuda]" -w NoAssertions > "$build/check.$t.log" 2>&1
  rc=$?
  tail -25 "$build/check.$t.log"
  [[ $rc -eq 0 ]] || { tests_ok=0; echo "check.sh: $t exited $rc"; }
done
fi

# compute-sanitizer over every [cuda] test: memcheck (with leak check) and racecheck. Not in the
# default sections (it runs the tests 10-100x slower): CHECK_SECTIONS="tests sanitize".
# One result row per program and tool: the sanitizer's error count, or "timeout".
if want sanitize; then
stamp "compute-sanitizer memcheck and racecheck over the [cuda] tests"
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
if [[ -z "$sanitizer" ]]; then
  echo "check.sh: compute-sanitizer not found"; tests_ok=0
else
  for t in $cuda_tests; do
    for tool in memcheck racecheck; do
      extra=()
      [[ $tool == memcheck ]] && extra=(--leak-check full)
      log="$build/check.sanitize.$tool.$t.log"
      STUCKAT_REQUIRE_GPU=1 timeout "${SANITIZE_SECONDS:-150}" "$sanitizer" --tool $tool "${extra[@]}" --error-exitcode 9 \
        "$build/bin/$t" "[cuda]" > "$log" 2>&1
      rc=$?
      errors=$(grep -o 'ERROR SUMMARY: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
      [[ $rc -eq 124 ]] && errors=timeout
      echo "{\"framework\": \"sanitizer\", \"model\": \"$t\", \"tool\": \"$tool\", \"errors\": \"${errors:-?}\", \"rc\": $rc}" \
        | tee -a "$results"
      [[ $rc -eq 0 ]] || { tests_ok=0; grep -m5 -E "=========  (Invalid|Race|Leaked|Program hit)" "$log"; }
    done
  done
fi
fi

if want train; then
stamp "stuckat throughput"
for spec in lenet5:64 vgg11:128 resnet18:128; do
  timeout 120 "$build/bin/bench_gpu_train" --model "${spec%%:*}" --batch "${spec##*:}" --seconds "$secs" | tee -a "$results" \
    || echo "check.sh: bench_gpu_train ${spec} failed" >&2
done
stamp "pytorch throughput"
timeout 150 python3 bench/gpu/pytorch_train.py --model lenet5:64 --model vgg11:128 --model resnet18:128 --seconds "$secs" \
  | tee -a "$results" || echo "check.sh: pytorch_train.py failed" >&2
fi

if want smoke; then
stamp "CLI on the GPU: every --device cuda path once, end to end"
smoke_ok=1
: > "$build/check.smoke.log"
smoke() {  # name, then the stuckat arguments; logs to check.smoke.log
  echo "-- $1" >> "$build/check.smoke.log"
  if timeout 120 "$build/bin/stuckat" "${@:2}" >> "$build/check.smoke.log" 2>&1; then echo "ok    $1"; else echo "FAIL  $1"; smoke_ok=0; fi
}
sd=$build/smoke
rm -rf "$sd"
small=(--data synthetic --limit-train 1024 --limit-test 512 --device cuda)
smoke "train f32" train --model lenet5 "${small[@]}" --epochs 2 --out "$sd/f32"
smoke "train --resume" train --model lenet5 "${small[@]}" --epochs 3 --resume --out "$sd/f32"
smoke "eval" eval --checkpoint "$sd/f32/checkpoint.safetensors" "${small[@]}"
smoke "train fault-aware" train --model lenet5 "${small[@]}" --epochs 2 --faults layer=conv2,bit=15,stuck=1,rate=0.05 \
  --fault-mode keep_bit --histograms epochs=0,2 --out "$sd/fat"
smoke "eval --fault-masks" eval --checkpoint "$sd/f32/checkpoint.safetensors" --quant q4.11 \
  --fault-masks "$sd/fat/checkpoint.safetensors" "${small[@]}"
smoke "prune oneshot + fine-tune" prune --checkpoint "$sd/f32/checkpoint.safetensors" --method oneshot --density 0.2 \
  --epochs 1 "${small[@]}" --out "$sd/p"
smoke "prune lth" prune --checkpoint "$sd/f32/checkpoint.safetensors" --method lth --rate 0.5 --rounds 2 --epochs 1 \
  "${small[@]}" --out "$sd/lth"
smoke "prune lth --resume" prune --checkpoint "$sd/f32/checkpoint.safetensors" --method lth --rate 0.5 --rounds 3 \
  --epochs 1 "${small[@]}" --out "$sd/lth" --resume
smoke "train --init pruned f32" train --init "$sd/p/checkpoint.safetensors" "${small[@]}" --epochs 1 --out "$sd/ft"
smoke "train --init pruned q4.11" train --init "$sd/p/checkpoint.safetensors" "${small[@]}" --epochs 1 --quant q4.11 \
  --faults layer=all,bit=random,stuck=1,rate=0.01,target=nonzero --out "$sd/ftq"
smoke "sweep" sweep --checkpoint "$sd/fat/checkpoint.safetensors" "${small[@]}" --layers conv1,fc1 --bits 14,15 \
  --stuck 0,1 --rates 0.05 --out "$sd/sweep.csv"
smoke "deploy" deploy --checkpoint "$sd/p/checkpoint.safetensors" "${small[@]}" --size 64 --cell-bits 2 \
  --chip "rate=0.01,sa=1.75:9.04" --chip-seeds 0-2 --placement naive,fault-aware --json "$sd/deploy_gpu.json"
# The same chips deployed on the CPU: the same weights change, the accuracy within 1 image in 500.
if timeout 120 "$build/bin/stuckat" deploy --checkpoint "$sd/p/checkpoint.safetensors" "${small[@]:0:6}" --size 64 --cell-bits 2 \
     --chip "rate=0.01,sa=1.75:9.04" --chip-seeds 0-2 --placement naive,fault-aware --json "$sd/deploy_cpu.json" \
     >> "$build/check.smoke.log" 2>&1 && python3 -c "
import json, sys
g = json.load(open(sys.argv[1]))['results']; c = json.load(open(sys.argv[2]))['results']
sys.exit(0 if len(g) == len(c) == 6 and all(a['weights_changed'] == b['weights_changed'] and abs(a['test_acc'] - b['test_acc']) <= 0.002
                                            for a, b in zip(g, c)) else 1)" "$sd/deploy_gpu.json" "$sd/deploy_cpu.json"; then
  echo "ok    deploy: GPU = CPU"
else
  echo "FAIL  deploy: GPU = CPU"; smoke_ok=0
fi
smoke "xbar" xbar --model vgg11 --density 0.02 --prune-scope layer --size 64 --strategy none,compact,spara --device cuda
echo "CLI smoke on the GPU: $([[ $smoke_ok -eq 1 ]] && echo PASS || echo FAIL) (log: check.smoke.log)"
[[ $smoke_ok -eq 1 ]] || tests_ok=0
fi

fm=$PWD/.deps/fashion-mnist
grid=(--layers conv1,conv2,fc1,fc2,fc3 --bits 3,7,11,14,15 --stuck 0,1 --rates 0.01,0.05)
ckpt=$build/sweep_ckpt/checkpoint.safetensors
sweep_checkpoint() {  # LeNet-5 trained for one epoch on the CPU, once per build directory
  [[ -f "$ckpt" ]] && return 0
  timeout 120 "$build/bin/stuckat" train --model lenet5 --data-dir "$fm" --epochs 1 --threads "$(nproc)" \
    --out "$build/sweep_ckpt" > "$build/check.sweep_train.log" 2>&1 || echo "check.sh: training the sweep checkpoint failed" >&2
}

if want profile; then  # not in the default sections: where the time goes, by region
stamp "profile (STUCKAT_CUDA_PROFILE=1; synchronizing timers, so not throughput)"
for spec in resnet18:128 vgg11:128 lenet5:64; do
  [[ -x "$build/bin/bench_gpu_train" ]] || break
  echo "-- bench_gpu_train $spec"
  STUCKAT_CUDA_PROFILE=1 timeout 120 "$build/bin/bench_gpu_train" --model "${spec%%:*}" --batch "${spec##*:}" \
    --seconds 1 --validate 0 2>&1 | head -40
done
if [[ -f "$fm/t10k-images-idx3-ubyte.gz" ]]; then
  sweep_checkpoint
  echo "-- stuckat sweep --device cuda"
  rm -f "$build/sweep_profile.csv"
  STUCKAT_CUDA_PROFILE=1 timeout 120 "$build/bin/stuckat" sweep --device cuda --checkpoint "$ckpt" --data-dir "$fm" \
    --batch 10000 --seeds 0 --formats q4.11 "${grid[@]}" --out "$build/sweep_profile.csv" 2>&1 | tail -42
fi
fi

if want sweep; then
stamp "fault sweep: stuckat --device cuda vs the PyTorch loop on the GPU"
if [[ -f "$fm/t10k-images-idx3-ubyte.gz" ]]; then
  sweep_checkpoint
  # Two runs with the default 10 points per pass (keep the better), one with 20 (a whole layer's
  # points per pass, --pass-gb 16 so LeNet-5's conv1 points fit), then one point per pass for
  # comparison (reported as sweep_per_point, not in the table's ratio).
  for cpp in 10 10 20 1; do
    rm -f "$build/sweep.csv"
    out=$(timeout 120 "$build/bin/stuckat" sweep --device cuda --checkpoint "$ckpt" --data-dir "$fm" --batch 10000 \
          --seeds 0 --formats q4.11 "${grid[@]}" --configs-per-pass "$cpp" --pass-gb 16 --out "$build/sweep.csv" 2>>"$build/check.sweep.log") \
      || echo "check.sh: stuckat sweep --device cuda failed (see check.sweep.log)" >&2
    echo "$out" | tail -2
    python3 - "$out" "$cpp" <<'PY' | tee -a "$results"
import json, re, sys
m = re.search(r"evaluated (\d+) points .* in ([0-9.]+) s", sys.argv[1])
if m:  # the baseline row does not count as a point
    print(json.dumps({"framework": "stuckat", "model": "sweep" if sys.argv[2] != "1" else "sweep_per_point",
                      "configs_per_pass": int(sys.argv[2]), "points": int(m.group(1)) - 1,
                      "points_per_s": (int(m.group(1)) - 1) / float(m.group(2))}))
PY
  done
  for run in 1 2; do  # the loop's own rate varies (191-235 points/s on one H200): best of two, as for ours
    timeout 150 python3 bench/pytorch_sweep.py --device cuda --checkpoint "$ckpt" --data-dir "$fm" --batch 10000 \
      "${grid[@]}" | python3 -c "import json,sys; r=json.loads(sys.stdin.read().splitlines()[-1]); r.pop('accuracies'); r.update(framework='pytorch', model='sweep'); print(json.dumps(r))" \
      | tee -a "$results" || echo "check.sh: pytorch_sweep.py failed" >&2
  done
else
  echo "check.sh: .deps/fashion-mnist is missing (rerun scripts/gather-device-deps.sh); sweep benchmark skipped" >&2
fi
fi

if want sweepprobe; then  # not in the default sections: what the sweep's time depends on
stamp "sweep probe: trace with and without the warm-up, nsys kernel summary"
if [[ -f "$fm/t10k-images-idx3-ubyte.gz" ]]; then
  sweep_checkpoint
  probe() {  # one 100-point sweep, 10 points per pass; prints its last line and the process's wall time
    rm -f "$build/probe.csv"
    local t0=$(date +%s.%N)
    timeout 120 "$@" sweep --device cuda --checkpoint "$ckpt" --data-dir "$fm" --batch 10000 --seeds "${SEEDS:-0}" \
      --formats q4.11 "${grid[@]}" --out "$build/probe.csv" 2>"$build/probe.err" | tail -1
    echo "   process wall time $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$t0" "$(date +%s.%N)") s"
    cat "$build/probe.err" >> "$build/check.sweep.log"
  }
  # Module loading: CUDA_MODULE_LOADING=EAGER took 15-17 ms against 16-18 lazily (2026-11-27) and
  # 1.4 s more process start-up, so the default stays lazy. The host-side trace of each step:
  # Each chunk's line splits launch into allocation (with the device mallocs it made), outputs,
  # rest and scores, and gives the device's time on its passes (CUDA events, no added waits).
  # STUCKAT_SWEEP_WARMUP=0 skips the sweep's warm-up (kernel preloading and a clean pass at a
  # stacked pass's size, sweep/sweep_warm_up.h): what it saves, traced and untraced.
  for run in "0 1" "0 1" "0 0" "0 0" "0-3 1"; do
    seeds=${run% *} warm=${run#* }
    echo "-- seeds $seeds, STUCKAT_SWEEP_WARMUP=$warm STUCKAT_SWEEP_TRACE=1 STUCKAT_GEMM_TRACE=1"
    SEEDS=$seeds STUCKAT_SWEEP_WARMUP=$warm STUCKAT_SWEEP_TRACE=1 STUCKAT_GEMM_TRACE=1 probe "$build/bin/stuckat"
    grep -E "sweep trace|gemm trace|warm-up pass|^  [01] [01] " "$build/probe.err" | head -40
  done
  # STUCKAT_PINNED_STAGING=0 uploads straight from pageable memory (the driver may wait for the
  # queue first) instead of through pinned staging buffers (kernels/cuda/host_staging.cu).
  for run in "0 1" "1 1" "1 0" "0 1" "1 1" "1 0"; do  # untraced, alternating
    warm=${run% *} pinned=${run#* }
    echo "-- untraced, STUCKAT_SWEEP_WARMUP=$warm STUCKAT_PINNED_STAGING=$pinned"
    STUCKAT_SWEEP_WARMUP=$warm STUCKAT_PINNED_STAGING=$pinned probe "$build/bin/stuckat"
  done
  if command -v nsys > /dev/null; then
    echo "-- nsys"
    probe nsys profile --force-overwrite true -o "$build/sweep_nsys" "$build/bin/stuckat" > /dev/null
    nsys stats --report cuda_gpu_kern_sum --report cuda_api_sum --report cuda_gpu_mem_time_sum --format table \
      "$build/sweep_nsys.nsys-rep" 2>&1 | cut -c1-200 | grep -v "^ *$" | head -90
    [[ -n "${OUT:-}" && -d "${OUT:-}" ]] && cp "$build/sweep_nsys.nsys-rep" "$OUT/" 2>/dev/null
  else
    echo "-- no nsys on this machine"
  fi
fi
fi

if want crossbar; then
stamp "crossbar counting on the GPU"
for n in 1e6 1e7 1e8; do
  timeout 150 "$build/bin/bench_crossbar" --kind uniform --nnz "$n" --density 1e-3 --size 128 --strategies compact \
    --repeats 3 --gpu 2>>"$build/check.crossbar.log" \
    | python3 -c "import json,sys; r=json.loads(sys.stdin.read()); r.update(framework='crossbar', model='crossbar'); print(json.dumps(r))" \
    | tee -a "$results" || echo "check.sh: bench_crossbar --nnz $n --gpu failed (see check.crossbar.log)" >&2
done
fi

stamp done
python3 - "$results" "$tests_ok" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
get = lambda fw, m: next((r for r in rows if r["framework"] == fw and r["model"] == m), {})
gpu = next((r.get("device_name") for r in rows if r.get("device_name")), "?")
print(f"\n[cuda] tests: {'PASS' if sys.argv[2] == '1' else 'FAIL'}   GPU: {gpu}   images/s, fp32")
print(f"{'model':<10}{'batch':>6} {'mode':<6}{'stuckat':>12}{'pytorch':>12}{'ratio':>8}")
for m in ("lenet5", "vgg11", "resnet18"):
    s, p = get("stuckat", m), get("pytorch", m)
    for mode in ("train", "eval"):
        a, b = s.get(f"{mode}_images_per_s"), p.get(f"{mode}_images_per_s")
        ratio = f"{a / b:.2f}" if a and b else "-"
        fa = f"{a:.0f}" if a else "-"
        fb = f"{b:.0f}" if b else "-"
        print(f"{m:<10}{s.get('batch', p.get('batch', 0)):>6} {mode:<6}{fa:>12}{fb:>12}{ratio:>8}")
ours = max((r["points_per_s"] for r in rows if r["framework"] == "stuckat" and r["model"] == "sweep"), default=None)
theirs = max((r["points_per_s"] for r in rows if r["framework"] == "pytorch" and r["model"] == "sweep"), default=None)
if ours or theirs:
    ratio = f"{ours / theirs:.1f}x" if ours and theirs else "-"
    print(f"LeNet-5 fault sweep, 100 points, 10k test images, batch 10000: stuckat {ours or 0:.1f} points/s, "
          f"PyTorch loop {theirs or 0:.1f} points/s (best runs of each), ratio {ratio} (target 50x)")
    runs = [f"{r['points_per_s']:.0f} ({r['configs_per_pass']} per pass)" for r in rows
            if r["framework"] == "stuckat" and r["model"] in ("sweep", "sweep_per_point")]
    if runs:
        print("  stuckat runs, points/s: " + ", ".join(runs))
for r in (r for r in rows if r["framework"] == "sanitizer"):
    print(f"compute-sanitizer {r['tool']:<9} {r['model']:<20} errors {r['errors']:<8} exit {r['rc']}")
for r in (r for r in rows if r["framework"] == "crossbar"):
    t = r["times"]
    print(f"crossbar {r['nnz']:.0e} nnz S={r['size']}: GPU count {t.get('gpu_count', 0):.4f} s (upload "
          f"{t.get('gpu_upload', 0):.3f} s, target < 0.1 s at 1e8), CPU count {t['count']:.4f} s "
          f"({r['threads']} threads); compaction map GPU {t.get('gpu_compact_map', 0):.4f} s vs CPU {t.get('compact', 0):.4f} s")
PY
[[ $tests_ok -eq 1 ]]
