#!/usr/bin/python3
"""Imported networks on the CPU, against the built-in model and against PyTorch, in one run.

A. LeNet-5 imported from ONNX (exported by stuckat from a built-in checkpoint) against the
   built-in LeNet-5: `train` images/s (1 epoch on Fashion-MNIST) and `sweep` points/s (the same
   grid on 10k test images).
B. Evaluation of torchvision MobileNetV2 and ResNet-18 (10 classes, 32x32x3, exported by
   torch.onnx.export) in `stuckat eval` against PyTorch eager on the same images and threads.
C. A fault sweep over every layer of the imported MobileNetV2 against the PyTorch loop
   researchers write (copy the weights, quantize a layer to Q4.11 words, force a bit on a random
   fraction, dequantize, evaluate), same points and images.

Each figure is the best of --repeats runs, the two sides interleaved. Usage:
  /usr/bin/python3 bench/onnx_cpu.py --stuckat build/bin/stuckat --threads 2 [--repeats 2]
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from onnx_interop import fashion_images  # the loader's preprocessing, replicated  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pytorch_sweep import dequantize, force_bit, quantize  # the PyTorch loop's steps  # noqa: E402


def run(*args):
    out = subprocess.run(list(map(str, args)), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, args))}\n{out.stderr}")
    return out.stdout + out.stderr


def sweep_rate(text):
    return float(re.search(r"\(([0-9.]+) points/s\)", text).group(1))


def labels(count):
    import gzip
    d = Path("/usr/share/datasets/fashion-mnist")
    raw = gzip.open(d / "t10k-labels-idx1-ubyte.gz").read()
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=8)[:count].astype(np.int64))


def main():
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser()
    ap.add_argument("--stuckat", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--eval-images", type=int, default=2048)
    ap.add_argument("--sweep-images", type=int, default=1000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t = ["--threads", args.threads]
    work = Path(tempfile.mkdtemp(prefix="stuckat_onnx_bench_"))
    results = {"threads": args.threads}

    # A. imported vs built-in LeNet-5.
    run(args.stuckat, "train", "--model", "lenet5", "--epochs", "1", *t, "--out", work / "lenet")
    ck = work / "lenet" / "checkpoint.safetensors"
    run(args.stuckat, "export", "--checkpoint", ck, "--onnx", work / "lenet5.onnx")
    grid = ["--layers", "all", "--bits", "3,11,14,15", "--stuck", "0,1", "--rates", "0.01,0.05", "--formats", "q4.11"]
    best = {}
    for r in range(args.repeats):
        for name, model, source in (("builtin", "lenet5", ck), ("imported", work / "lenet5.onnx", work / "lenet5.onnx")):
            out = work / f"train_{name}_{r}"
            run(args.stuckat, "train", "--model", model, "--epochs", "1", *t, "--out", out)
            ips = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["train_images_per_s"]
            csv = work / f"sweep_{name}_{r}.csv"
            pps = sweep_rate(run(args.stuckat, "sweep", "--checkpoint", source, *grid, *t, "--out", csv))
            b = best.setdefault(name, {"train_images_per_s": 0, "sweep_points_per_s": 0})
            b["train_images_per_s"] = max(b["train_images_per_s"], ips)
            b["sweep_points_per_s"] = max(b["sweep_points_per_s"], pps)
    results["lenet5"] = best
    print(f"A. LeNet-5 train img/s: built-in {best['builtin']['train_images_per_s']:.0f}, imported "
          f"{best['imported']['train_images_per_s']:.0f} ({best['imported']['train_images_per_s'] / best['builtin']['train_images_per_s']:.2f}x); "
          f"sweep points/s: built-in {best['builtin']['sweep_points_per_s']:.1f}, imported "
          f"{best['imported']['sweep_points_per_s']:.1f} ({best['imported']['sweep_points_per_s'] / best['builtin']['sweep_points_per_s']:.2f}x)")

    # B. evaluation of imported torchvision networks vs PyTorch.
    x = torch.from_numpy(fashion_images(args.eval_images, 32, 3))
    for name, make in (("mobilenet_v2", torchvision.models.mobilenet_v2), ("resnet18", torchvision.models.resnet18)):
        model = make(num_classes=10).eval()
        path = work / f"{name}.onnx"
        torch.onnx.export(model, torch.zeros(1, 3, 32, 32), str(path), input_names=["input"],
                          dynamic_axes={"input": {0: "N"}}, opset_version=13)
        ours = theirs = 0.0
        for _ in range(args.repeats):
            out = run(args.stuckat, "eval", "--checkpoint", path, "--resize", "32", "--channels", "3", "--limit-test",
                      args.eval_images, "--batch", 256, *t)
            ours = max(ours, json.loads(out.splitlines()[-1])["images_per_s"])
            with torch.no_grad():
                start = time.perf_counter()
                for i in range(0, len(x), 256):
                    model(x[i:i + 256])
                theirs = max(theirs, len(x) / (time.perf_counter() - start))
        results[name + "_eval"] = {"stuckat": ours, "pytorch": theirs}
        print(f"B. {name} eval img/s (batch 256, {args.eval_images} images): stuckat {ours:.0f}, PyTorch {theirs:.0f} "
              f"({ours / theirs:.2f}x)")

    # C. MobileNetV2 sweep vs the PyTorch loop: every layer (52 convs and the classifier) at bit 14,
    # stuck-at-1, 1% of the words: 53 points. The ONNX graph's Conv/Gemm nodes are PyTorch's conv
    # and linear modules in order (batch norm folded into them), so the loop faults the same layers.
    model = torchvision.models.mobilenet_v2(num_classes=10).eval()
    path = work / "mobilenet_v2.onnx"
    import onnx
    g = onnx.load(str(path)).graph
    layer_nodes = [n for n in g.node if n.op_type in ("Conv", "Gemm")]
    torch_layers = [name for name, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layer_nodes) == len(torch_layers), (len(layer_nodes), len(torch_layers))
    xs, ys = torch.from_numpy(fashion_images(args.sweep_images, 32, 3)), labels(args.sweep_images)
    ours = theirs = 0.0
    for r in range(args.repeats):
        csv = work / f"mnv2_{r}.csv"
        ours = max(ours, sweep_rate(run(args.stuckat, "sweep", "--checkpoint", path, "--resize", "32", "--channels", "3",
                                         "--limit-test", args.sweep_images, "--layers", "all", "--bits", "14",
                                         "--stuck", "1", "--rates", "0.01", "--formats", "q4.11", "--batch", 500, *t,
                                         "--out", csv)))
        clean = {k: v.clone() for k, v in model.state_dict().items()}
        gen = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        for layer in torch_layers:
            state = {k: v.clone() for k, v in clean.items()}
            key = layer + ".weight"
            state[key] = dequantize(force_bit(quantize(clean[key]), 14, 1, 0.01, gen))
            model.load_state_dict(state)
            with torch.no_grad():
                for i in range(0, len(xs), 500):
                    F.cross_entropy(model(xs[i:i + 500]), ys[i:i + 500])
        theirs = max(theirs, len(torch_layers) / (time.perf_counter() - start))
        model.load_state_dict(clean)
    results["mobilenet_v2_sweep"] = {"stuckat": ours, "pytorch": theirs, "points": len(torch_layers)}
    print(f"C. MobileNetV2 sweep, every layer ({len(torch_layers)} points) on {args.sweep_images} images: stuckat "
          f"{ours:.2f} points/s, PyTorch loop {theirs:.2f} points/s ({ours / theirs:.2f}x)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
