#!/usr/bin/env python3
"""Writes OUT/results.md from what examples/trained_networks.sh leaves in OUT (standard library
only): per model, its training, the sensitivity sweep (drop per layer / bit, with the spread over
fault seeds, and the research's questions answered from the numbers), pruning per density and
method, 1% faults on the dense vs the 10% network, crossbar tiles per strategy, and the CPU time
of every step.

    python3 examples/trained_networks_report.py OUT MODEL [MODEL ...]
"""
import array
import csv
import json
import math
import statistics
import struct
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from sweep_tables import read_sweep  # noqa: E402

DENSITIES = ("0.1", "0.07", "0.04", "0.02", "0.01")
STRATEGIES = ("none", "compact", "rcm", "rcm-sym", "rcm-slices", "spara", "best")


def pct(x):
    return f"{100 * x:.1f}%"


def training(m: Path) -> list:
    rows = [json.loads(line) for line in (m / "dense" / "metrics.jsonl").read_text().splitlines() if line.strip()]
    last = rows[-1]
    curve = ", ".join(f"{100 * r['test_acc']:.1f}" for r in rows)
    return [f"Trained {len(rows)} epochs: train loss {rows[0]['train_loss']:.3f} -> {last['train_loss']:.3f}, "
            f"test accuracy by epoch {curve} (%).", ""]


def weight_bits(checkpoint: Path) -> dict:
    """Per weight matrix (conv / linear, F32) of a safetensors checkpoint: the 90th percentile of
    |w| as a Q4.11 bit position (log2(|w|) + 11: the bit worth as much as the weight)."""
    raw = checkpoint.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or not name.endswith(".weight") or len(t["shape"]) < 2 or t["dtype"] != "F32":
            continue
        begin, end = t["data_offsets"]
        w = array.array("f", raw[8 + n + begin:8 + n + end])
        a = sorted(abs(x) for x in w)
        p90 = a[min(len(a) - 1, int(0.9 * len(a)))]
        out[name[:-len(".weight")]] = math.log2(p90) + 11 if p90 > 0 else float("-inf")
    return out


def sensitivity(m: Path) -> list:
    base, acc = read_sweep(m / "sweep.csv")
    layers = list(dict.fromkeys(k[0] for k in acc))
    bits = sorted({k[3] for k in acc})
    seeds = max(len(v) for v in acc.values())
    lines = [f"Clean Q4.11 accuracy {pct(base)}. Accuracy drop in points, mean (and spread: max - min) over "
             f"{seeds} fault seeds; bit 15 is the sign bit.", "",
             "| layer | stuck | rate | " + " | ".join(f"bit {b}" for b in bits) + " |",
             "|---|---|---|" + "---:|" * len(bits)]
    for layer in layers:
        for stuck in (0, 1):
            for rate in (0.01, 0.05):
                cells = []
                for b in bits:
                    v = acc.get((layer, stuck, rate, b))
                    if not v:
                        cells.append("")
                        continue
                    drop = 100 * (base - statistics.mean(v)) + 0.0
                    spread = 100 * (max(v) - min(v))
                    cells.append(f"{drop:.1f}" + (f" ({spread:.1f})" if len(v) > 1 else ""))
                lines.append(f"| {layer} | SA{stuck} | {rate:g} | " + " | ".join(cells) + " |")
    # The research's questions, answered from the table.
    mean_drop = {l: statistics.mean(100 * (base - statistics.mean(acc[k])) for k in acc if k[0] == l) for l in layers}
    order = sorted(layers, key=lambda l: mean_drop[l])
    chance = [l for l in layers if any(statistics.mean(acc[k]) <= 0.15 for k in acc if k[0] == l and k[2] == 0.05)]
    lines += ["", f"Mean drop over every bit, stuck value and rate, per layer: " +
              ", ".join(f"{l} {mean_drop[l]:.1f}" for l in layers) + ".",
              f"Least sensitive layer: {order[0]}; most sensitive: {order[-1]}. The first layer ({layers[0]}) "
              f"ranks {order.index(layers[0]) + 1} of {len(layers)} from the least sensitive.",
              f"Layers where 5% of the weights with one bit stuck give chance accuracy (<= 15%) at some bit: "
              f"{len(chance)} of {len(layers)}" + (f" ({', '.join(chance)})" if chance else "") + ".", ""]
    # Which bits matter: per layer, the lowest stuck bit whose mean drop exceeds 2 points.
    def lowest(layer, stuck, rate):
        hit = [b for b in bits if (layer, stuck, rate, b) in acc and
               100 * (base - statistics.mean(acc[(layer, stuck, rate, b)])) > 2.0]
        return str(min(hit)) if hit else "-"
    cols = [(stuck, rate) for stuck in (0, 1) for rate in (0.01, 0.05)]
    scale = weight_bits(m / "dense" / "checkpoint.safetensors")
    lines += ["The lowest stuck bit that costs more than 2 points (mean over seeds; - where none does), beside "
              "the bit worth as much as the layer's 90th-percentile |w| (log2 |w| + 11):", "",
              "| layer | " + " | ".join(f"SA{st} {r:g}" for st, r in cols) + " | p90 abs(w) as a bit |",
              "|---|" + "---:|" * (len(cols) + 1)]
    lines += [f"| {layer} | " + " | ".join(lowest(layer, st, r) for st, r in cols) +
              (f" | {scale[layer]:.1f} |" if layer in scale else " | |") for layer in layers]
    return lines + [""]


def pruning(m: Path) -> list:
    lines = ["| density | one-shot, fine-tuned | bounded one-shot, fine-tuned | one-shot before fine-tuning |",
             "|---:|---:|---:|---:|"]
    for d in DENSITIES:
        cells = []
        for method in ("oneshot", "oneshot-bounded"):
            f = m / method / f"d{d}" / "report.json"
            cells.append(pct(json.loads(f.read_text())["test_acc"]) if f.exists() else "")
        f = m / "oneshot" / f"d{d}" / "report.json"
        cells.append(pct(json.loads(f.read_text())["test_acc_pruned"]) if f.exists() else "")
        lines.append(f"| {float(d):.0%} | " + " | ".join(cells) + " |")
    f = m / "lth" / "report.json"
    if f.exists():
        rounds = json.loads(f.read_text())["rounds"]
        lines += ["", "Lottery ticket (rewind to theta0, 40% of the remaining weights per round): " +
                  ", ".join(f"{100 * r['density']:.1f}% -> {pct(r['test_acc'])}" for r in rounds) + "."]
    return lines + [""]


def faults(m: Path) -> list:
    """1% of one layer's remaining words stuck, dense vs 10%; with faults_same_count.csv also the
    dense network at the 10% network's count of faulty words per layer."""
    rows = list(csv.DictReader((m / "faults.csv").open()))
    nets = ["dense", "sparse"]
    if (m / "faults_same_count.csv").exists():
        rows += list(csv.DictReader((m / "faults_same_count.csv").open()))
        nets.append("dense_same_count")
    name = {"dense": "dense", "sparse": "10%", "dense_same_count": "dense, 10%'s count"}
    clean = {r["net"]: float(r["test_acc"]) for r in rows if r["layer"] == "none"}
    clean["dense_same_count"] = clean["dense"]
    acc = defaultdict(list)
    for r in rows:
        if r["layer"] != "none":
            acc[(r["net"], r["layer"], r["stuck"])].append(float(r["test_acc"]))
    layers = list(dict.fromkeys(k[1] for k in acc))
    cols = [(net, s) for s in ("0", "1") for net in nets]
    lines = [f"Clean Q4.11: dense {pct(clean['dense'])}, 10% {pct(clean['sparse'])}. Accuracy with 1% of one layer's "
             "remaining weights stuck (random bit), mean over fault seeds" +
             ("; \"dense, 10%'s count\": the dense network with as many faulty words per layer as 1% of the 10% "
              "network's (the rate 1% x the 10% layer's nonzero words / the dense layer's)" if len(nets) > 2 else "") +
             ":", "",
             "| layer | " + " | ".join(f"{name[net]} SA{s}" for net, s in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for layer in layers:
        lines.append(f"| {layer} | " + " | ".join(pct(statistics.mean(acc[(net, layer, s)])) for net, s in cols) + " |")
    drop = {(net, s): statistics.mean(clean[net] - statistics.mean(acc[(net, l, s)]) for l in layers) for net, s in cols}
    lines += ["", "Mean drop over layers (points): " +
              ", ".join(f"{name[net]} SA{s} {100 * drop[(net, s)]:.1f}" for net, s in cols) + ".", ""]
    return lines


def crossbar(m: Path) -> list:
    lines = ["| density | S | tiles in place | " + " | ".join(STRATEGIES) + " | best saves | zero col. segments: measured / (1-d)^S |",
             "|---:|---:|---:|" + "---:|" * len(STRATEGIES) + "---:|---|"]
    for d in DENSITIES:
        for s in ("128", "64", "8"):
            f = m / "xbar" / f"d{d}-s{s}.json"
            if not f.exists():
                continue
            j = json.loads(f.read_text())
            tot, st = j["total"], j["total"]["strategies"]
            used = {k: st[k]["tiles_used"] for k in STRATEGIES}
            others = min(v for k, v in used.items() if k != "best")
            segs = sum(l["col_segments"] for l in j["layers"])
            measured = sum(l["col_segments"] * l["theory"]["zero_col_segment"]["measured"] for l in j["layers"]) / segs
            predicted = sum(l["col_segments"] * l["theory"]["zero_col_segment"]["predicted"] for l in j["layers"]) / segs
            cells = [f"**{v}**" if k == "best" and v < others else str(v) for k, v in used.items()]
            lines.append(f"| {float(d):.0%} | {s} | {tot['tiles']} | " + " | ".join(cells) +
                         f" | {1 - used['best'] / tot['tiles']:.0%} | {measured:.2f} / {predicted:.2f} |")
    return lines + [""]


def shortcut_note(m: Path) -> list:
    """ResNet-18: best's tiles with and without the 1x1 shortcut layers (per-layer sums)."""
    lines = []
    for d in ("0.04", "0.02", "0.01"):
        f = m / "xbar" / f"d{d}-s128.json"
        if not f.exists():
            continue
        j = json.loads(f.read_text())
        short = [l for l in j["layers"] if "shortcut" in l["name"]]
        if not short:
            return []
        all_best = sum(l["strategies"]["best"]["tiles_used"] for l in j["layers"])
        no_short = all_best - sum(l["strategies"]["best"]["tiles_used"] for l in short)
        lines.append(f"{float(d):.0%}: best {all_best} tiles with the {len(short)} shortcut layers, {no_short} without.")
    return lines + [""] if lines else []


def main():
    out, models = Path(sys.argv[1]), sys.argv[2:]
    lines = ["# Trained VGG / ResNet experiment results", "",
             "Written by examples/trained_networks_report.py from the runs of examples/trained_networks.sh.", ""]
    for model in models:
        m = out / model
        lines += [f"## {model}", "", "### Training", ""] + training(m)
        if (m / "sweep.csv").exists():
            lines += ["### Sensitivity per layer and bit", ""] + sensitivity(m)
        lines += ["### Pruning: test accuracy per density and method", ""] + pruning(m)
        if (m / "faults.csv").exists():
            lines += ["### 1% faults on the remaining weights: dense vs the 10% network", ""] + faults(m)
        lines += ["### Crossbar tiles of the fine-tuned one-shot networks (128, 64, 8)", ""] + crossbar(m)
        lines += shortcut_note(m)
    times = list(csv.DictReader((out / "times.csv").open()))
    lines += ["## CPU time of each step", "", "| step | CPU s | wall s |", "|---|---:|---:|"]
    lines += [f"| {t['step']} | {t['cpu_s']} | {t['wall_s']} |" for t in times]
    tmp = out / "results.md.tmp"  # written whole, then renamed over the old one
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out / "results.md")


if __name__ == "__main__":
    main()
