#!/usr/bin/python3
"""Fault sweeps on VGG11 and ResNet-18 on the CPU, measured against the PyTorch loop and against
their physical bound, in one run.

For each model: a short-trained checkpoint (`stuckat train`, Fashion-MNIST padded to 32x32x3),
then `stuckat sweep` over every layer x bits 15/14/10/5/0 x stuck-at 0/1 x 1%/5% of the words
(Q4.11) on the first --images test images, and the PyTorch loop researchers write (copy the
state_dict, quantize the weights to Q4.11 words, force the bit on a random fraction, dequantize,
load, evaluate: bench/pytorch_sweep.py's steps) on the same checkpoint, images and threads. The
loop's cost per point does not depend on the bit or the rate, so it runs one point per layer
(bit 14, stuck-at 1, 1%) -- the grid's mix of layers -- and its points/s stands for the grid's.

The bound: whatever the method, a point must compute the network after its faulted layer on
every image (its change reaches every output channel at these rates), plus the faulted layer's
own change (each changed weight times the layer's output pixels). Those multiply-adds, summed
over the grid's points (changed weights from the sweep's CSV, layer sizes from PyTorch hooks in
execution order), divided by the sweep's time and by the machine's dense GEMM rate (the faster
of torch.mm at 2048^3 and stuckat's own 1x1-conv GEMM, same threads) give the sweep's
efficiency. Batch norm, ReLU and pooling are not counted: the bound is a lower one.

    /usr/bin/python3 bench/sweep_models_cpu.py --build build --threads 2 [--models vgg11_bn,resnet18]
        [--images 1000] [--train-images 4096] [--repeats 1]

Prints a table and one JSON line.
"""
import argparse
import copy
import csv
import datetime
import gzip
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))
from onnx_interop import fashion_images  # the loader's preprocessing, replicated  # noqa: E402
from pytorch_models_interop import build  # the built-in models with stuckat's parameter names  # noqa: E402
from pytorch_sweep import dequantize, force_bit, quantize  # the PyTorch loop's steps  # noqa: E402
from safetensors_load import load_file  # noqa: E402

GRID = {"bits": "15,14,10,5,0", "stuck": "0,1", "rates": "0.01,0.05"}
DATA = ["--data", "fashion-mnist", "--resize", "32", "--channels", "3"]


def run(*args):
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, args))}\n{out.stderr}")
    return out.stdout + out.stderr


def labels(count):
    raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").read()
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=8)[:count].astype(np.int64))


def layer_macs(model, shape):
    """Per conv / linear module in execution order: (name, multiply-adds per image, output pixels
    per output channel)."""
    rows, names = [], {m: n for n, m in model.named_modules()}

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.Conv2d):
            pixels = out.shape[2] * out.shape[3]
            rows.append((names[mod], pixels * mod.out_channels * mod.in_channels // mod.groups * mod.kernel_size[0] *
                         mod.kernel_size[1], pixels))
        elif isinstance(mod, torch.nn.Linear):
            rows.append((names[mod], mod.in_features * mod.out_features, 1))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    for h in handles:
        h.remove()
    return rows


def gemm_rate(stuckat_build, threads):
    """GFLOP/s of the machine's dense GEMM on `threads` threads: the faster of torch.mm and
    stuckat's 1x1 conv (a plain GEMM of 512 x 512 weights by 64 images x 256 pixels)."""
    a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
    for _ in range(2):
        a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2:
        a @ b
        n += 1
    torch_rate = 2 * 2048 ** 3 * n / (time.perf_counter() - t0) / 1e9
    out = run(Path(stuckat_build) / "bin/bench_conv", "--batch", 64, "--threads", threads, "--seconds", 2,
              "--case", "gemm:512:512:16:1:1:0")
    ours = json.loads(out.strip().splitlines()[-1])["gflops"]
    return max(torch_rate, ours), torch_rate, ours


def pytorch_loop(name, ckpt, layers, x, y, batch):
    model, _ = build(name)
    state = {k: v for k, v in load_file(ckpt).items() if not k.startswith(("prune.", "fault_and.", "fault_or."))}
    model.load_state_dict(state)
    model.eval()
    gen = torch.Generator().manual_seed(0)
    weights = [k for k, v in state.items() if k.endswith(".weight") and v.dim() in (2, 4)]
    t0 = time.perf_counter()
    for layer in layers:  # one point a layer: bit 14, stuck-at 1, 1%
        sd = copy.deepcopy(state)
        for k in weights:
            words = quantize(sd[k])
            if k == layer + ".weight":
                words = force_bit(words, 14, 1, 0.01, gen)
            sd[k] = dequantize(words)
        model.load_state_dict(sd)
        with torch.no_grad():
            for i in range(0, len(x), batch):
                F.cross_entropy(model(x[i:i + batch]), y[i:i + batch])
    return len(layers) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="vgg11_bn,resnet18")
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--train-images", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=1, help="alternating runs of each; the best is kept")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    stuckat = Path(args.build) / "bin/stuckat"
    work = Path(tempfile.mkdtemp(prefix="stuckat_sweep_models_"))
    t = ["--threads", args.threads]
    rate, torch_rate, our_rate = gemm_rate(args.build, args.threads)
    x = torch.from_numpy(fashion_images(args.images, 32, 3))
    y = labels(args.images)
    results = {"threads": args.threads, "images": args.images, "gemm_gflops": rate, "torch_mm_gflops": torch_rate,
               "stuckat_gemm_gflops": our_rate}
    for name in args.models.split(","):
        run(stuckat, "train", "--model", name, *DATA, "--limit-train", args.train_images, "--limit-test", 1000,
            "--epochs", 1, "--batch", 64, "--lr", 0.05, "--momentum", 0.9, *t, "--out", work / name)
        ckpt = work / name / "checkpoint.safetensors"
        macs = layer_macs(build(name)[0], (3, 32, 32))
        names = [n for n, _, _ in macs]
        best_ours = best_theirs = None
        for r in range(args.repeats):
            out_csv = work / f"{name}_{r}.csv"
            text = run(stuckat, "sweep", "--checkpoint", ckpt, *DATA, "--limit-test", args.images, "--layers", "all",
                       "--formats", "q4.11", "--batch", args.batch, *t, "--out", out_csv,
                       *[a for k, v in GRID.items() for a in (f"--{k}", v)])
            m = re.search(r"evaluated (\d+) points .* in ([0-9.]+) s", text)
            points, seconds = int(m.group(1)) - 1, float(m.group(2))  # the baseline row is not a fault point
            if best_ours is None or seconds < best_ours[1]:
                best_ours = (points, seconds, out_csv)
            loop = pytorch_loop(name, str(ckpt), names, x, y, args.batch)
            best_theirs = max(best_theirs or 0.0, loop)
        points, seconds, out_csv = best_ours
        index = {n: i for i, n in enumerate(names)}
        suffix = [sum(mac for _, mac, _ in macs[i + 1:]) for i in range(len(macs))]
        bound = 0  # multiply-adds per image, summed over the points
        rows = [row for row in csv.DictReader(open(out_csv)) if row["layer"] != "baseline"]
        for row in rows:
            i = index[row["layer"]]
            bound += suffix[i] + int(row["changed_weights"]) * macs[i][2]
        bound_flops = 2.0 * bound * args.images
        ours = points / seconds
        eff = bound_flops / seconds / (rate * 1e9)
        full = 2.0 * sum(mac for _, mac, _ in macs) * args.images * points  # every point a full forward
        results[name] = {"points": points, "seconds": seconds, "points_per_s": ours, "pytorch_points_per_s": best_theirs,
                         "ratio": ours / best_theirs, "bound_gflop": bound_flops / 1e9, "full_gflop": full / 1e9,
                         "efficiency": eff, "layers": len(names)}
        print(f"{name}: {points} points ({len(names)} layers x 20) on {args.images} images: stuckat {ours:.2f} points/s, "
              f"PyTorch loop {best_theirs:.3f} points/s ({ours / best_theirs:.1f}x); bound {bound_flops / 1e9:.0f} GFLOP "
              f"({bound_flops / full:.0%} of a full forward per point) in {seconds:.1f} s = "
              f"{bound_flops / seconds / 1e9:.0f} GFLOP/s, {eff:.0%} of the {rate:.0f} GFLOP/s GEMM rate", flush=True)
    print(f"# {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='minutes')} {platform.machine()}, "
          f"{args.threads} threads; GEMM rate: torch.mm {torch_rate:.0f}, stuckat 1x1 conv {our_rate:.0f} GFLOP/s")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
