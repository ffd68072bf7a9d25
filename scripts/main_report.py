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
    (out / "REPORT.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
