#!/usr/bin/env python3
"""Writes OUT/deploy.csv, OUT/finetune.csv and OUT/summary.md from the files
examples/deploy_experiments.sh leaves in OUT (standard library only).

    python3 examples/deploy_experiments_report.py OUT
"""
import csv, json, statistics, sys
from pathlib import Path

out = Path(sys.argv[1])
runs = out / "runs"


NETS = {"pruned": "LeNet-5 pruned to 10%", "dense": "LeNet-5 dense", "vgg11pruned": "VGG11-BN pruned to 10%",
        "vgg11dense": "VGG11-BN dense"}


def net_rank(net):
    return list(NETS).index(net) if net in NETS else len(NETS)


def mean_sd(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


rows = []
for f in sorted(runs.glob("*-b*-r*-sa*-*.json")):
    net, b, rate, sa_a, sa_b, tag = f.stem.split("-")  # tag: the layout, "sens" (--sensitivity) or a word format
    weighting = "sensitivity" if tag == "sens" else "uniform"
    rep = json.loads(f.read_text())
    for r in rep["results"]:
        rows.append({"net": net, "quant": rep["quant"], "cell_bits": int(b[1:]), "rate": float(rate[1:]),
                     "sa": f"{sa_a[2:]}:{sa_b}", "layout": r["layout"], "weighting": weighting, "placement": r["placement"], "chip_seed": r["chip_seed"], "tiles_used": r["tiles_used"],
                     "spares": r["spares"], "spares_used": r["spares_used"], "weights_on_chip": r["weights_on_chip"],
                     "weights_touched": r["weights_touched"], "weights_changed": r["weights_changed"],
                     "zero_to_nonzero": r["zero_to_nonzero"], "squared_error": r["squared_error"],
                     "test_acc": r["test_acc"], "clean_test_acc": rep["clean_test_acc"],
                     "theory_weights_touched": rep["theory_weights_touched"]})
if rows:
    with open(out / "deploy.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

lines = ["# Deploying LeNet-5 and VGG11 onto faulty chips", "",
         "Nets: " + "; ".join(f"`{k}` = {v}" for k, v in NETS.items()) + ".", "", "## Naive and fault-aware placement", "",
         "Test accuracy in % (mean and standard deviation over 10 chips), 128 x 128 cells. *recovered*: the share of",
         "the accuracy naive placement loses that fault-aware placement wins back, (aware - naive) / (clean - naive),",
         "of the means. *changed*: weights whose word reads back different, naive -> fault-aware. *touched*: share",
         "of weights with a stuck cell, measured (naive, `none`) vs theory 1 - (1 - rate)^k.", ""]
groups = {}
for r in rows:
    groups.setdefault((r["net"], r["cell_bits"], r["rate"], r["sa"], r["quant"]), []).append(r)
lines += ["| net | b | rate | SA0:SA1 | words | clean | naive | fault-aware | recovered | changed | best + spares: naive | fault-aware | spares | touched / theory |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
recover = {}
for key in sorted(groups, key=lambda k: (net_rank(k[0]), k[4] != "q4.11", k[1], k[2], k[3] != "1.75:9.04")):
    g = groups[key]
    sel = lambda layout, placement: [r for r in g if r["layout"] == layout and r["placement"] == placement
                                     and r["weighting"] == "uniform"]
    nv, aw, bn, ba = sel("none", "naive"), sel("none", "fault-aware"), sel("best", "naive"), sel("best", "fault-aware")
    if not (nv and aw):
        continue
    clean = 100 * nv[0]["clean_test_acc"]
    (mn, sn), (ma, sa_) = mean_sd([100 * r["test_acc"] for r in nv]), mean_sd([100 * r["test_acc"] for r in aw])
    rec = (ma - mn) / (clean - mn) if clean - mn > 1e-9 else float("nan")
    recover[key] = rec
    cn, ca = statistics.mean(r["weights_changed"] for r in nv), statistics.mean(r["weights_changed"] for r in aw)
    touched = statistics.mean(r["weights_touched"] / r["weights_on_chip"] for r in nv)
    best = "| - | - | -"
    if bn and ba:
        (mbn, sbn), (mba, sba) = mean_sd([100 * r["test_acc"] for r in bn]), mean_sd([100 * r["test_acc"] for r in ba])
        used = statistics.mean(r["spares_used"] for r in ba)
        best = f"| {mbn:.2f} ± {sbn:.2f} | {mba:.2f} ± {sba:.2f} | {used:.1f} of {ba[0]['spares']}"
    lines.append(f"| {key[0]} | {key[1]} | {100 * key[2]:g}% | {key[3]} | {key[4]} | {clean:.2f} | {mn:.2f} ± {sn:.2f} | {ma:.2f} ± {sa_:.2f} "
                 f"| {100 * rec:.0f}% | {cn:.0f} -> {ca:.0f} ({100 * (1 - ca / cn) if cn else 0:.0f}% fewer) {best} "
                 f"| {100 * touched:.2f}% / {100 * nv[0]['theory_weights_touched']:.2f}% |")

# Sensitivity-weighted against uniform fault-aware placement.
sens = [(k, g) for k, g in groups.items() if any(r["weighting"] == "sensitivity" for r in g)]
if sens:
    lines += ["", "## Fault-aware placement weighted by sensitivity (`--sensitivity 256`, `none` layout)", "",
              "Accuracy in % (mean ± sd over 10 chips) and the squared error (weight units, mean over chips) of",
              "fault-aware placement with every weight alike against weights weighted by 0.5 + 0.5 F/mean(F).", "",
              "| net | b | rate | SA0:SA1 | clean | uniform | sensitivity | worst chip: uniform | sensitivity | squared error: uniform | sensitivity |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, g in sorted(sens, key=lambda kg: (net_rank(kg[0][0]), kg[0][1], kg[0][2])):
        u = [r for r in g if r["layout"] == "none" and r["placement"] == "fault-aware" and r["weighting"] == "uniform"]
        w = [r for r in g if r["weighting"] == "sensitivity"]
        if not u:
            continue
        (mu, su), (mw, sw) = mean_sd([100 * r["test_acc"] for r in u]), mean_sd([100 * r["test_acc"] for r in w])
        lines.append(f"| {key[0]} | {key[1]} | {100 * key[2]:g}% | {key[3]} | {100 * u[0]['clean_test_acc']:.2f} | {mu:.2f} ± {su:.2f} "
                     f"| {mw:.2f} ± {sw:.2f} | {100 * min(r['test_acc'] for r in u):.2f} | {100 * min(r['test_acc'] for r in w):.2f} "
                     f"| {statistics.mean(r['squared_error'] for r in u):.1f} | {statistics.mean(r['squared_error'] for r in w):.1f} |")

# Fine-tuning for the chip.
ft_rows = []
for f in sorted(runs.glob("ft-*.json")):
    _, net, chip = f.stem.split("-", 2)  # ft-NET-CHIP-QUANT
    chip, quant = chip.rsplit("-", 1)
    rep = json.loads(f.read_text())
    for r in rep["results"]:
        run = out / "finetune" / f"{f.stem}-{r['placement']}-chip{r['chip_seed']}" / "eval.json"
        if not run.exists():
            continue
        tuned = json.loads(run.read_text())["test_acc"]
        ft_rows.append({"net": net, "chip": chip, "quant": quant, "placement": r["placement"], "chip_seed": r["chip_seed"],
                        "clean_test_acc": rep["clean_test_acc"], "deployed_test_acc": r["test_acc"],
                        "fine_tuned_test_acc": tuned, "weights_changed": r["weights_changed"]})
if ft_rows:
    with open(out / "finetune.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(ft_rows[0]))
        w.writeheader()
        w.writerows(ft_rows)
    lines += ["", "## Placement, then one epoch of fine-tuning for the chip (2 bits per cell, `none` layout)", "",
              "`train --init C --quant Q --fault-masks M --fault-mode keep_bit --epochs 1 --lr 0.0001` with the masks deploy",
              "wrote, evaluated with the same masks. Accuracy in % (mean ± sd over the chips); *clean*: the format's",
              "fault-free accuracy; *gap*: clean minus fine-tuned.", "",
              "| net | chip | words | placement | clean | deployed | fine-tuned | gap | chips |", "|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["net"], r["chip"], r["quant"], r["placement"]) for r in ft_rows},
                  key=lambda k: (net_rank(k[0]), k[1] != "r1", k[2], k[1], k[3] != "naive"))
    for k in keys:
        g = [r for r in ft_rows if (r["net"], r["chip"], r["quant"], r["placement"]) == k]
        clean = 100 * g[0]["clean_test_acc"]
        (md, sd), (mt, st) = mean_sd([100 * r["deployed_test_acc"] for r in g]), mean_sd([100 * r["fine_tuned_test_acc"] for r in g])
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {clean:.2f} | {md:.2f} ± {sd:.2f} | {mt:.2f} ± {st:.2f} | {clean - mt:.2f} | {len(g)} |")

(out / "summary.md").write_text("\n".join(lines) + "\n")
print(f"{out / 'summary.md'}: {len(rows)} deployments, {len(ft_rows)} fine-tuned chips")
for key, rec in sorted(recover.items()):
    if key[0] in ("pruned", "vgg11pruned") and key[2] == 0.01:
        print(f"  {key[0]} b={key[1]} 1% {key[3]} {key[4]}: fault-aware recovers {100 * rec:.0f}% of naive's loss")
