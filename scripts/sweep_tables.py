"""Markdown tables of a `stuckat sweep` CSV, shared by the main job's report and the experiment
reports (standard library only)."""
import csv
from collections import defaultdict
from pathlib import Path


def read_sweep(path: Path):
    """Returns (baseline accuracy, {(layer, stuck, rate, bit): [accuracy per seed]})."""
    rows = list(csv.DictReader(Path(path).open()))
    base = [float(r["test_acc"]) for r in rows if r["layer"] == "baseline"]
    if not base:
        raise SystemExit(f"{path} has no baseline row")
    acc = defaultdict(list)
    for r in rows:
        if r["layer"] != "baseline":
            acc[(r["layer"], int(r["stuck"]), float(r["rate"]), int(r["bit"]))].append(float(r["test_acc"]))
    return base[0], acc


def drop_points(base: float, values) -> float:
    """Clean minus mean faulty accuracy, in points (never -0.0)."""
    return round(100 * (base - sum(values) / len(values)), 1) + 0.0


def drop_table(base: float, acc) -> list:
    """One row per (layer, stuck, rate), one column per bit: the accuracy drop in points."""
    layers = list(dict.fromkeys(k[0] for k in acc))
    bits = sorted({k[3] for k in acc})
    lines = ["| layer | stuck | rate | " + " | ".join(f"bit {b}" for b in bits) + " |",
             "|---|---|---|" + "---:|" * len(bits)]
    for layer in layers:
        for stuck in sorted({k[1] for k in acc}):
            for rate in sorted({k[2] for k in acc}):
                cells = [f"{drop_points(base, acc[(layer, stuck, rate, b)]):.1f}" if acc.get((layer, stuck, rate, b))
                         else "" for b in bits]
                lines.append(f"| {layer} | SA{stuck} | {rate:g} | " + " | ".join(cells) + " |")
    return lines
