#!/usr/bin/env python3
"""Writes OUT/REPORT.md from the files scripts/main_job.sh leaves in OUT (standard library only).

    python3 scripts/main_report.py OUT
"""
import json, sys
from pathlib import Path

from sweep_tables import drop_table, read_sweep


def main():
    out = Path(sys.argv[1])
    metrics = [json.loads(l) for l in (out / "train/metrics.jsonl").read_text().splitlines() if l.strip()]
    last = metrics[-1]
    lines = ["# stuckat main job report", "",
             "LeNet-5 on Fashion-MNIST (60k training, 10k test images), 16-bit Q4.11 weights.", "",
             "## 1. Training", "",
             "| epoch | train loss | test loss | test acc | images/s |", "|---:|---:|---:|---:|---:|"]
    for m in metrics:
        lines.append(f"| {m['epoch']} | {m['train_loss']:.4f} | {m['test_loss']:.4f} | {100 * m['test_acc']:.2f}% | "
                     f"{m['train_images_per_s']:.0f} |")

    base, acc = read_sweep(out / "sweep.csv")
    lines += ["", "## 2. Stuck-at fault sweep", "",
              f"Clean Q4.11 accuracy {100 * base:.2f}% (float {100 * last['test_acc']:.2f}%). Accuracy drop in "
              f"points when a fraction of one layer's weights has one bit stuck (bit 15 = sign bit):", ""]
    lines += drop_table(base, acc)
    lines.append("")
    for png in sorted(out.glob("sweep_bits_*.png")):
        lines += [f"![{png.stem}]({png.name})", ""]

    clean = json.loads((out / "deployed_clean_model.json").read_text())
    tuned = json.loads((out / "deployed_finetuned.json").read_text())
    lines += ["## 3. Fault-aware fine-tuning", "",
              "conv2 with 1% of its weights' bit 15 stuck at 1, on the crossbar:", "",
              "| model | test acc on the faulty crossbar |", "|---|---:|",
              f"| trained without faults | {100 * clean['test_acc']:.2f}% |",
              f"| fine-tuned 1 epoch with --fault-mode keep_bit | {100 * tuned['test_acc']:.2f}% |", "",
              "Weight histograms before and after fine-tuning:", "",
              "![before](finetune/histograms/epoch0.png)", "", "![after](finetune/histograms/epoch1.png)", ""]
    prune = json.loads((out / "prune.json").read_text())
    dense_f = json.loads((out / "dense_faulty.json").read_text())
    sparse_f = json.loads((out / "sparse_faulty.json").read_text())
    lines += ["## 4. Pruning", "",
              f"Global magnitude pruning to 10% density: test accuracy {100 * prune['test_acc_before']:.2f}% dense, "
              f"{100 * prune['test_acc_pruned']:.2f}% right after pruning, {100 * prune['test_acc']:.2f}% after one "
              "epoch of fine-tuning with the mask kept.", "",
              "| layer | weights | kept | density |", "|---|---:|---:|---:|"]
    for layer in prune["layers"]:
        lines.append(f"| {layer['name']} | {layer['total']} | {layer['nonzero']} | {100 * layer['density']:.1f}% |")
    t = prune["total"]
    lines += [f"| total | {t['total']} | {t['nonzero']} | {100 * t['density']:.1f}% |", "",
              "1% of the remaining weights of every layer with a random bit stuck (SA0:SA1 = 1.75:9.04):", "",
              "| network | test acc, fault-free | test acc with the faults |", "|---|---:|---:|",
              f"| dense | {100 * base:.2f}% (Q4.11) | {100 * dense_f['test_acc']:.2f}% |"]
    lines.append(f"| 10% dense | {100 * prune['test_acc']:.2f}% (f32) | {100 * sparse_f['test_acc']:.2f}% |")
    xbar = json.loads((out / "xbar.json").read_text())
    tot = xbar["total"]
    order = [n for n in ("none", "compact", "rcm", "rcm-sym", "rcm-slices", "spara", "best") if n in tot["strategies"]]
    lines += ["", f"## 5. Crossbar mapping ({xbar['size']} x {xbar['size']} tiles)", "",
              "The pruned layers as matrices, rows = inputs (wordlines), columns = outputs (bitlines). Tiles the "
              "network needs after each reordering (every layout verified to rebuild the matrix exactly):", "",
              "| layer | matrix | density | tiles in place | " + " | ".join(order) + " |",
              "|---|---|---:|---:|" + "---:|" * len(order)]
    for layer in xbar["layers"]:
        cells = [str(layer["strategies"][s]["tiles_used"]) for s in order]
        lines.append(f"| {layer['name']} | {layer['rows']}x{layer['cols']} | {100 * layer['density']:.1f}% | "
                     f"{layer['tiles']} | " + " | ".join(cells) + " |")
    cells = [str(tot["strategies"][s]["tiles_used"]) for s in order]
    lines += [f"| total | | | {tot['tiles']} | " + " | ".join(cells) + " |", "",
              "![tile occupancy before and after each reordering](xbar.png)", ""]
    tmp = out / "REPORT.md.tmp"  # written whole, then renamed over the old one
    tmp.write_text("\n".join(lines))
    tmp.replace(out / "REPORT.md")


if __name__ == "__main__":
    main()
