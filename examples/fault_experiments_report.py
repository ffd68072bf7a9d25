#!/usr/bin/env python3
"""Writes OUT/results.md from the files examples/fault_experiments.sh leaves in OUT (standard
library only): per model, the accuracy drop (points, mean over fault seeds) for every layer,
stuck value, rate and bit; then the fault-aware training table.

    python3 examples/fault_experiments_report.py OUT EPOCHS
"""
import json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from sweep_tables import drop_points, drop_table, read_sweep  # noqa: E402


def sweep_tables(out: Path, model: str) -> list:
    base, acc = read_sweep(out / f"sweep_{model}.csv")
    layers = list(dict.fromkeys(k[0] for k in acc))
    bits = sorted({k[3] for k in acc})
    seeds = max(len(v) for v in acc.values())
    lines = [f"### {model}: clean Q4.11 accuracy {100 * base:.2f}%", "",
             f"Accuracy drop in points (clean minus faulty, mean of {seeds} fault seeds); bit 15 is the sign bit.", ""]
    lines += drop_table(base, acc)
    # The lowest bit whose fault costs more than 1 point, per layer / stuck / rate.
    lines += ["", "Lowest bit position costing more than 1 point:", "",
              "| layer | SA0 1% | SA0 5% | SA1 1% | SA1 5% |", "|---|---|---|---|---|"]
    for layer in layers:
        cells = []
        for stuck in (0, 1):
            for rate in (0.01, 0.05):
                hit = [b for b in bits if acc.get((layer, stuck, rate, b)) and
                       drop_points(base, acc[(layer, stuck, rate, b)]) > 1]
                cells.append(str(min(hit)) if hit else "none")
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    return lines + [""]


def fault_aware_table(out: Path, epochs: int) -> list:
    lines = ["### Fault-aware training: conv2, 1% of weights with bit 15 stuck at 1", "",
             "| --fault-mode | final train loss | test acc as trained | deployed on the faulty crossbar | note |",
             "|---|---:|---:|---:|---|"]
    for mode in ("none", "keep_bit", "keep_weight", "zero", "clip"):
        run = out / "runs" / f"fat_{mode}"
        metrics = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
        last = metrics[-1]
        deployed = json.loads((out / "runs" / f"fat_{mode}.deployed.json").read_text())
        note = []
        if (run / "divergence.json").exists():
            note.append("diverged: " + json.dumps(json.loads((run / "divergence.json").read_text())))
        if len(metrics) < epochs:
            note.append(f"stopped after {len(metrics)} epochs")
        lines.append(f"| {mode} | {last['train_loss']:.4f} | {100 * last['test_acc']:.2f}% | "
                     f"{100 * deployed['test_acc']:.2f}% | {'; '.join(note)} |")
    return lines + [""]


def main():
    out, epochs = Path(sys.argv[1]), int(sys.argv[2])
    lines = ["# Stuck-at fault experiment results", "",
             "Written by examples/fault_experiments_report.py from the runs of examples/fault_experiments.sh.", ""]
    for model in ("lenet5", "lenet5_bn"):
        lines += sweep_tables(out, model)
    lines += fault_aware_table(out, epochs)
    tmp = out / "results.md.tmp"  # written whole, then renamed over the old one
    tmp.write_text("\n".join(lines))
    tmp.replace(out / "results.md")


if __name__ == "__main__":
    main()
