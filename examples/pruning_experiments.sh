#!/usr/bin/env bash
# Pruning experiments (results in docs/EXPERIMENTS.md, "## Pruning"). Rerun from the
# repository root after building (cmake --build build -j2):
#   bash examples/pruning_experiments.sh            # BIN=build/bin/stuckat OUT=runs/pruning
# Every step skips outputs that already exist or resumes (train and prune --resume), so an
# interrupted run continues where it stopped, also within a training.
# LeNet-5 on Fashion-MNIST (Debian's dataset-fashion-mnist), SGD lr 0.1, momentum 0, weight decay
# 5e-4, StepLR(1, 0.95) the research's seed settings. Steps:
#   1. dense: 15 epochs, seed 0
#   2. one-shot and bounded one-shot from the dense net at densities 100% .. 1%, without and with
#      3 epochs of fine-tuning (masks kept)
#   3. lottery ticket, rewinding to theta0: 20% of the remaining weights per round, 10 epochs per
#      round, to 10% (lth10); and a cheaper curve to 1%: 40% per round, 5 epochs per round (lth1)
#   3b. SSL (group lasso, lambda 0.05 on filters and channels, 2 epochs) and 2 epochs of fine-tuning
#   3c. the LTH 10% check over more training seeds (LTH_SEEDS, default "1 2 3 4"; seed 0 is step 3):
#      a dense net per seed (15 epochs) and its 20%/round x 10-epoch ticket; lth_seeds.csv
#   4. 1% stuck-at faults (random bit, target=nonzero: only remaining weights) per layer, SA0 vs
#      SA1, seeds 0-4, dense vs the 10% ticket; and target=all on the ticket (pruned cells with SA1)
#   5. fault-aware fine-tuning (2 epochs, lr 0.01) of both nets under 1% SA1 on all layers in each
#      --fault-mode (keep_bit, keep_weight, clip, zero, none), evaluated with the same faults
#   6. CSV files, a summary (summary.md), accuracy_vs_density.png and faults_dense_vs_sparse.png
set -euo pipefail
BIN=${BIN:-build/bin/stuckat}
PLOT=${PLOT:-$(dirname "$BIN")/plot_pruning}
OUT=${OUT:-runs/pruning}
THREADS=${THREADS:-1}  # 1 thread per process: robust on a shared machine; set 2 on an idle one
export OMP_WAIT_POLICY=PASSIVE
run=(nice "$BIN")
mkdir -p "$OUT"
t=(--threads "$THREADS")

# 1. dense
"${run[@]}" train --model lenet5 --epochs 15 --lr 0.1 --weight-decay 5e-4 --gamma 0.95 --seed 0 "${t[@]}" \
  --out "$OUT/dense" --resume >"$OUT/dense.log" 2>&1
dense="$OUT/dense/checkpoint.safetensors"

# 2. one-shot
for d in 1 0.8 0.64 0.512 0.41 0.328 0.262 0.21 0.168 0.134 0.107 0.1 0.08 0.064 0.05 0.04 0.03 0.02 0.015 0.01; do
  for m in oneshot oneshot-bounded; do
    [ -f "$OUT/$m/d$d/report.json" ] ||
      "${run[@]}" prune --checkpoint "$dense" --method "$m" --density "$d" "${t[@]}" --out "$OUT/$m/d$d" \
        >"$OUT/$m.d$d.log" 2>&1
  done
done
for d in 0.5 0.2 0.1 0.05 0.02 0.01; do
  for m in oneshot oneshot-bounded; do
    [ -f "$OUT/$m-ft/d$d/report.json" ] ||
      "${run[@]}" prune --checkpoint "$dense" --method "$m" --density "$d" --epochs 3 --lr 0.05 "${t[@]}" \
        --out "$OUT/$m-ft/d$d" --resume >"$OUT/$m-ft.d$d.log" 2>&1
  done
done

# 3. lottery ticket
[ -f "$OUT/lth10/report.json" ] ||
  "${run[@]}" prune --checkpoint "$dense" --method lth --rate 0.2 --density 0.1 --epochs 10 "${t[@]}" \
    --out "$OUT/lth10" --json "$OUT/lth10.json" --resume >"$OUT/lth10.log" 2>&1
sparse="$OUT/lth10/checkpoint.safetensors"
[ -f "$OUT/lth1/report.json" ] ||
  "${run[@]}" prune --checkpoint "$dense" --method lth --rate 0.4 --density 0.01 --epochs 5 "${t[@]}" \
    --out "$OUT/lth1" --resume >"$OUT/lth1.log" 2>&1

# 3b. structured sparsity: group lasso on conv filters and channels, then 2 epochs of fine-tuning
[ -f "$OUT/ssl05/report.json" ] ||
  "${run[@]}" prune --checkpoint "$dense" --method ssl --lambda-filter 0.05 --lambda-channel 0.05 --epochs 2 "${t[@]}" \
    --out "$OUT/ssl05" --json "$OUT/ssl05.json" --resume >"$OUT/ssl05.log" 2>&1
"${run[@]}" train --init "$OUT/ssl05/checkpoint.safetensors" --epochs 2 --lr 0.05 "${t[@]}" --out "$OUT/ssl05-ft" \
  --resume >"$OUT/ssl05-ft.log" 2>&1

# 3c. LTH over more seeds
for s in ${LTH_SEEDS:-1 2 3 4}; do
  "${run[@]}" train --model lenet5 --epochs 15 --lr 0.1 --weight-decay 5e-4 --gamma 0.95 --seed "$s" "${t[@]}" \
    --out "$OUT/seeds/dense$s" --resume >"$OUT/seeds.dense$s.log" 2>&1
  [ -f "$OUT/seeds/lth$s/report.json" ] ||
    "${run[@]}" prune --checkpoint "$OUT/seeds/dense$s/checkpoint.safetensors" --method lth --rate 0.2 --density 0.1 \
      --epochs 10 "${t[@]}" --out "$OUT/seeds/lth$s" --resume >"$OUT/seeds.lth$s.log" 2>&1
done
python3 - "$OUT" ${LTH_SEEDS:-1 2 3 4} <<'PY'
# seed, the dense net with the rounds' 10-epoch budget (LTH round 0), the 15-epoch dense net,
# and the 10% ticket: lth_seeds.csv
import json, os, sys
out, seeds = sys.argv[1], ["0"] + sys.argv[2:]
lines = ["seed,dense_10ep,dense_15ep,lth_10pct"]
for s in seeds:
    d = os.path.join(out, "dense" if s == "0" else f"seeds/dense{s}")
    l = os.path.join(out, "lth10" if s == "0" else f"seeds/lth{s}")
    if not (os.path.exists(os.path.join(d, "metrics.jsonl")) and os.path.exists(os.path.join(l, "report.json"))):
        continue
    acc = {json.loads(x)["epoch"]: json.loads(x)["test_acc"] for x in open(os.path.join(d, "metrics.jsonl"))}
    r = json.load(open(os.path.join(l, "report.json")))
    lines.append(f"{s},{r['rounds'][0]['test_acc']},{acc[15]},{r['test_acc']}")
open(os.path.join(out, "lth_seeds.csv"), "w").write("\n".join(lines) + "\n")
PY

# 4. faults on remaining weights, dense vs sparse
if [ ! -f "$OUT/faults.csv" ]; then
  echo "net,layer,stuck,seed,test_acc,faulty" >"$OUT/faults.csv.tmp"
  for net in dense sparse; do
    ck=$dense
    [ $net = sparse ] && ck=$sparse
    acc=$("$BIN" eval --checkpoint "$ck" --quant q4.11 "${t[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["test_acc"])')
    echo "$net,none,-,-,$acc,0" >>"$OUT/faults.csv.tmp"
    for layer in conv1 conv2 fc1 fc2 fc3; do
      for stuck in 0 1; do
        for seed in 0 1 2 3 4; do
          "$BIN" eval --checkpoint "$ck" --quant q4.11 "${t[@]}" \
            --faults "layer=$layer,bit=random,stuck=$stuck,rate=0.01,seed=$seed,target=nonzero" |
            python3 -c 'import json,sys; r=json.load(sys.stdin); print(",".join(map(str, [sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], r["test_acc"], sum(l["faulty"] for l in r["layers"])])))' \
              $net $layer $stuck $seed >>"$OUT/faults.csv.tmp"
        done
      done
    done
  done
  mv "$OUT/faults.csv.tmp" "$OUT/faults.csv"
fi
# pruned cells: target=all on the sparse net puts faults on pruned cells too
if [ ! -f "$OUT/pruned_cells.csv" ]; then
  echo "stuck,bit,seed,test_acc,pruned_stuck_at_1,pruned_nonzero,pruned_max_abs" >"$OUT/pruned_cells.csv.tmp"
  for stuck in 0 1; do
    for bit in random 3 10 14; do
      for seed in 0 1 2; do
        "$BIN" eval --checkpoint "$sparse" --quant q4.11 "${t[@]}" \
          --faults "layer=all,bit=$bit,stuck=$stuck,rate=0.01,seed=$seed,target=all" |
          python3 -c 'import json,sys; r=json.load(sys.stdin); L=r["layers"]; print(",".join(map(str, [sys.argv[1], sys.argv[2], sys.argv[3], r["test_acc"], sum(l["pruned_stuck_at_1"] for l in L), sum(l["pruned_nonzero"] for l in L), max(float(l["pruned_max_abs"]) for l in L)])))' \
            $stuck $bit $seed >>"$OUT/pruned_cells.csv.tmp"
      done
    done
  done
  mv "$OUT/pruned_cells.csv.tmp" "$OUT/pruned_cells.csv"
fi

# 5. fault-aware fine-tuning under 1% SA1 (random bit) on every layer's remaining weights
spec="layer=all,bit=random,stuck=1,rate=0.01,seed=0,target=nonzero"
if [ ! -f "$OUT/fault_modes.csv" ]; then
  echo "net,mode,test_acc_before,test_acc_after" >"$OUT/fault_modes.csv.tmp"
  for net in dense sparse; do
    ck=$dense
    [ $net = sparse ] && ck=$sparse
    before=$("$BIN" eval --checkpoint "$ck" --quant q4.11 --faults "$spec" "${t[@]}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["test_acc"])')
    for mode in keep_bit keep_weight clip zero none; do
      "${run[@]}" train --init "$ck" --quant q4.11 --faults "$spec" --fault-mode $mode --epochs 2 --lr 0.01 \
        "${t[@]}" --out "$OUT/ft-$net-$mode" --resume >"$OUT/ft-$net-$mode.log" 2>&1
      # The trained network as its mode defines it (the checkpoint holds the effective words: stuck
      # bits kept, clipped, or zeroed); for mode none (faults only at evaluation) the faults are
      # injected into the trained network. (Re-injecting into a clip/zero checkpoint would undo the
      # mode: the stuck bits come back, and target=nonzero skips the zeroed weights.)
      if [ $mode = none ]; then
        after=$("$BIN" eval --checkpoint "$OUT/ft-$net-$mode/checkpoint.safetensors" --quant q4.11 --faults "$spec" \
          "${t[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["test_acc"])')
      else
        after=$(tail -n 1 "$OUT/ft-$net-$mode.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["test_acc"])')
      fi
      echo "$net,$mode,$before,$after" >>"$OUT/fault_modes.csv.tmp"
    done
  done
  mv "$OUT/fault_modes.csv.tmp" "$OUT/fault_modes.csv"
fi

# 6. accuracy vs density, summary, plot
python3 - "$OUT" <<'PY'
import json, os, sys, statistics as st
out = sys.argv[1]
rows = []
def report(p): return json.load(open(p))
for m, name in [("oneshot", "one-shot"), ("oneshot-bounded", "bounded"),
                ("oneshot-ft", "one-shot +3ep FT"), ("oneshot-bounded-ft", "bounded +3ep FT")]:
    base = os.path.join(out, m)
    if not os.path.isdir(base): continue
    for d in os.listdir(base):
        p = os.path.join(base, d, "report.json")
        if os.path.exists(p):
            r = report(p)
            rows.append((name, r["total"]["density"], r["test_acc"]))
for run, name in [("lth10", "LTH 20%/rd x10ep"), ("lth1", "LTH 40%/rd x5ep")]:
    p = os.path.join(out, run, "rounds.jsonl")
    if os.path.exists(p):
        for line in open(p):
            r = json.loads(line)
            rows.append((name, r["density"], r["test_acc"]))
with open(os.path.join(out, "accuracy_vs_density.csv"), "w") as f:
    f.write("series,density,test_acc\n")
    for r in sorted(rows, key=lambda r: (r[0], -r[1])): f.write("%s,%.6f,%.4f\n" % r)
md = ["| series | " + " | ".join("%g%%" % (100 * d) for d in [1, .5, .2, .1, .05, .02, .01]) + " |", "|---" * 8 + "|"]
for name in ["one-shot", "bounded", "one-shot +3ep FT", "bounded +3ep FT", "LTH 20%/rd x10ep", "LTH 40%/rd x5ep"]:
    cells = []
    for d in [1, .5, .2, .1, .05, .02, .01]:
        pts = [r for r in rows if r[0] == name]
        best = min(pts, key=lambda r: abs(r[1] - d), default=None)
        cells.append("%.4f (%.3g%%)" % (best[2], 100 * best[1]) if best and abs(best[1] - d) / d < 0.15 else "")
    md.append("| %s | %s |" % (name, " | ".join(cells)))
if os.path.exists(os.path.join(out, "faults.csv")):
    import csv
    fr = list(csv.DictReader(open(os.path.join(out, "faults.csv"))))
    md += ["", "| net | clean (q4.11) | layer | SA0 mean ± sd | SA1 mean ± sd |", "|---|---|---|---|---|"]
    for net in ["dense", "sparse"]:
        clean = [r for r in fr if r["net"] == net and r["layer"] == "none"][0]["test_acc"]
        for layer in ["conv1", "conv2", "fc1", "fc2", "fc3"]:
            cell = []
            for s in "01":
                a = [float(r["test_acc"]) for r in fr if r["net"] == net and r["layer"] == layer and r["stuck"] == s]
                cell.append("%.4f ± %.4f" % (st.mean(a), st.stdev(a)))
            md.append("| %s | %.4f | %s | %s | %s |" % (net, float(clean), layer, cell[0], cell[1]))
for name in ["pruned_cells.csv", "fault_modes.csv"]:
    p = os.path.join(out, name)
    if os.path.exists(p):
        lines = open(p).read().strip().split("\n")
        md += ["", "| " + lines[0].replace(",", " | ") + " |", "|---" * len(lines[0].split(",")) + "|"]
        md += ["| " + l.replace(",", " | ") + " |" for l in lines[1:]]
open(os.path.join(out, "summary.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
dense_acc=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["test_acc"])' "$OUT/dense/metrics.jsonl")
"$PLOT" "$OUT/accuracy_vs_density.csv" "$OUT/accuracy_vs_density.png" "LeNet-5 Fashion-MNIST: accuracy vs density" "$dense_acc"
"$(dirname "$PLOT")/plot_pruning_faults" "$OUT/faults.csv" "$OUT/faults_dense_vs_sparse.png"
echo "wrote $OUT/summary.md, $OUT/accuracy_vs_density.png and $OUT/faults_dense_vs_sparse.png"
