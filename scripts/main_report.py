#!/usr/bin/env python3
"""Writes OUT/REPORT.md from the files scripts/main_job.sh leaves in OUT (standard library only).

    python3 scripts/main_report.py OUT
"""
import csv, json, sys
from collections import defaultdict
from pathlib import Path


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

    rows = list(csv.DictReader((out / "sweep.csv").open()))
    base = next(float(r["test_acc"]) for r in rows if r["layer"] == "baseline")
    acc = defaultdict(list)
    for r in rows:
        if r["layer"] != "baseline":
            acc[(r["layer"], int(r["stuck"]), float(r["rate"]), int(r["bit"]))].append(float(r["test_acc"]))
    layers = list(dict.fromkeys(k[0] for k in acc))
    bits = sorted({k[3] for k in acc})
    lines += ["", "## 2. Stuck-at fault sweep", "",
              f"Clean Q4.11 accuracy {100 * base:.2f}% (float {100 * last['test_acc']:.2f}%). Accuracy drop in "
              f"points when a fraction of one layer's weights has one bit stuck (bit 15 = sign bit):", "",
              "| layer | stuck | rate | " + " | ".join(f"bit {b}" for b in bits) + " |",
              "|---|---|---|" + "---:|" * len(bits)]
    for layer in layers:
        for stuck in (0, 1):
            for rate in sorted({k[2] for k in acc}):
                cells = []
                for b in bits:
                    v = acc.get((layer, stuck, rate, b))
                    cells.append("" if not v else f"{round(100 * (base - sum(v) / len(v)), 1) + 0.0:.1f}")
                lines.append(f"| {layer} | SA{stuck} | {rate:g} | " + " | ".join(cells) + " |")
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
    (out / "REPORT.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
