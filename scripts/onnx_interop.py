#!/usr/bin/python3
"""stuckat's ONNX import and export against PyTorch, the ONNX checker and onnxruntime.

1. Import: PyTorch builds torchvision's MobileNetV2 and ResNet-18 (10 classes, 32x32x3 inputs)
   and a small CNN with Concat branches, depthwise and grouped convolutions and ReLU6 / hardswish
   (28x28x1), gives them random weights and batch-norm statistics, and exports each with
   torch.onnx.export (opset 13, dynamic batch). `stuckat eval --checkpoint X.onnx --save-logits`
   on the first Fashion-MNIST test images must give PyTorch's logits for the same images
   (|stuckat - PyTorch| <= 1e-4 of the logits' range).
2. Export: every built-in model (one short training run each) and every imported network is
   written by `stuckat export`; the file must pass onnx.checker (full check) and onnxruntime must
   compute stuckat's logits (same tolerance) for the same images.

Needs Debian's python3-torch, python3-torchvision and python3-onnx, and onnxruntime from PyPI
(scripts/install-bench-deps.sh). Usage:
  /usr/bin/python3 scripts/onnx_interop.py --stuckat build/bin/stuckat [--images 256] [--keep DIR]
Exit 0 when everything matched, 2 when a package is missing.
"""
import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

try:
    import numpy as np
    import onnx
    import onnxruntime
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
except ImportError as e:
    print(f"onnx_interop: {e.name} is not installed (scripts/install-bench-deps.sh installs it)", file=sys.stderr)
    sys.exit(2)

ROOT = Path(__file__).resolve().parent.parent
FASHION_DIRS = ["/usr/share/datasets/fashion-mnist", "/usr/share/dataset-fashion-mnist"]
BUILTIN = ["lenet5", "lenet5_bn", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "resnet18"]


class BranchNet(nn.Module):
    """Concat branches, a depthwise and a grouped conv, ReLU6 and hardswish, a dynamic-batch view."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 16, 1)
        self.b1 = nn.Conv2d(16, 8, 1)
        self.b2 = nn.Conv2d(16, 8, 3, padding=2, dilation=2, groups=4)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu6(self.bn(self.stem(x))), 2)
        x = F.hardswish(self.pw(self.dw(x)))
        x = torch.cat([self.b1(x), torch.sigmoid(self.b2(x))], 1)
        x = F.avg_pool2d(x, 2)
        return self.fc(x.view(x.size(0), -1))


def randomize_bn(model, gen):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def normalization(prefix):
    text = (ROOT / "framework/data/normalization.h").read_text()
    value = lambda name: float(re.search(r"inline constexpr double " + name + r" = ([0-9.]+);", text).group(1))
    return value(prefix + "Mean"), value(prefix + "Std")


def fashion_images(count, size, channels):
    """The first test images as stuckat's loader makes them (normalised, centre-padded, replicated)."""
    d = next((Path(p) for p in FASHION_DIRS if Path(p, "t10k-images-idx3-ubyte.gz").exists()), None)
    if d is None:
        raise SystemExit("onnx_interop: Fashion-MNIST not found (Debian's dataset-fashion-mnist)")
    raw = gzip.open(d / "t10k-images-idx3-ubyte.gz").read()
    x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 28, 28)[:count]
    mean, std = normalization("kFashionMnist")
    lut = np.array([(p / 255.0 - mean) / std for p in range(256)], dtype=np.float64).astype(np.float32)
    x = lut[x]
    pad = (size - 28) // 2
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), constant_values=lut[0]) if pad else x
    return np.ascontiguousarray(np.repeat(x[:, None], channels, axis=1))


def stuckat(binary, *args):
    run = subprocess.run([binary, *args], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"stuckat {' '.join(args)} failed: {run.stderr.strip()}")
    return run.stdout


def close(name, got, want):
    span = float(want.max() - want.min()) or 1.0
    err = float(np.abs(got - want).max())
    ok = got.shape == want.shape and err <= 1e-4 * span
    print(f"  {name:34s} max |diff| {err:.2e}  logit range {span:8.4f}  {'ok' if ok else 'FAIL'}")
    return ok


def sweep_equals_eval(binary, path, flags, work):
    """A sweep's points equal the same faults injected one at a time by eval, bit for bit."""
    csv = work / "mnv2_sweep.csv"
    csv.unlink(missing_ok=True)  # a kept folder from an earlier run
    # Layers are named by their weight initializers: the first conv, the first depthwise conv, the classifier.
    graph = onnx.load(str(path)).graph
    convs = [n for n in graph.node if n.op_type == "Conv"]
    depthwise = next(n for n in convs if any(a.name == "group" and a.i > 1 for a in n.attribute))
    gemm = next(n for n in graph.node if n.op_type == "Gemm")
    strip = lambda w: w[:-len(".weight")] if w.endswith(".weight") else w
    layers = ",".join(strip(n.input[1]) for n in (convs[0], depthwise, gemm))
    stuckat(binary, "sweep", "--checkpoint", str(path), "--limit-test", "128", *flags, "--layers",
            layers, "--bits", "10,14", "--stuck", "1",
            "--rates", "0.02", "--formats", "q4.11", "--out", str(csv))
    rows = [line.split(",") for line in csv.read_text().splitlines()]
    head = rows[0]
    rows = [r for r in rows[1:] if r[head.index("layer")] != "baseline"]
    ok = len(rows) == 6
    for r in rows:
        get = lambda k: r[head.index(k)]
        spec = f"layer={get('layer')},bit={get('bit')},stuck={get('stuck')},rate={get('rate')},seed={get('seed')}"
        out = stuckat(binary, "eval", "--checkpoint", str(path), "--limit-test", "128", *flags, "--quant", "q4.11",
                      "--faults", spec)
        acc = float(re.search(r'"test_acc":([0-9.e-]+)', out).group(1))
        ok = ok and acc == float(get("test_acc"))
    print(f"  {'sweep == eval --faults, 6 points':34s} {'ok' if ok else 'FAIL'}")
    return ok


def train_losses(binary, work):
    """MobileNetV2 exported in training mode (batch norm kept, PyTorch's names) trains in stuckat.
    (An eval-mode export folds batch norm into the convolutions: a deep network without it.)"""
    path = work / "mobilenet_v2_train.onnx"
    model = torchvision.models.mobilenet_v2(num_classes=10)
    torch.onnx.export(model, torch.zeros(2, 3, 32, 32), str(path), input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    out = work / "mnv2_train"
    shutil.rmtree(out, ignore_errors=True)
    stuckat(binary, "train", "--model", str(path), "--limit-train", "1024", "--limit-test", "128", "--epochs", "3",
            "--batch", "32", "--lr", "0.05", "--resize", "32", "--channels", "3", "--out", str(out))
    return [round(float(re.search(r'"train_loss":([0-9.e-]+)', l).group(1)), 4)
            for l in (out / "metrics.jsonl").read_text().splitlines()]


def main():
    warnings.filterwarnings("ignore")  # torch.onnx's notes on in-place ops and training-mode export
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stuckat", required=True)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--keep", help="keep the files here")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="stuckat_onnx_interop_"))
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    passed = failed = 0
    try:
        print("import: torch.onnx.export -> stuckat eval vs PyTorch on Fashion-MNIST test images")
        imported = {}
        for name, make, shape in [("mobilenet_v2", lambda: torchvision.models.mobilenet_v2(num_classes=10), (3, 32, 32)),
                                  ("resnet18_tv", lambda: torchvision.models.resnet18(num_classes=10), (3, 32, 32)),
                                  ("branchnet", BranchNet, (1, 28, 28))]:
            model = make()
            randomize_bn(model, gen)
            model.eval()
            path = work / f"{name}.onnx"
            torch.onnx.export(model, torch.zeros(1, *shape), str(path), input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
            x = fashion_images(args.images, shape[1], shape[0])
            with torch.no_grad():
                want = model(torch.from_numpy(x)).numpy()
            flags = ["--resize", "32", "--channels", "3"] if shape[0] == 3 else []
            stuckat(args.stuckat, "eval", "--checkpoint", str(path), "--limit-test", str(args.images), *flags,
                    "--save-logits", str(work / f"{name}.npy"))
            ok = close(f"{name} (PyTorch export)", np.load(work / f"{name}.npy"), want)
            passed, failed = passed + ok, failed + (not ok)
            imported[name] = (path, flags, shape)

        print("export: stuckat export -> onnx.checker + onnxruntime vs stuckat eval")
        sources = {}
        for m in BUILTIN:
            flags = [] if m.startswith("lenet5") else ["--resize", "32", "--channels", "3"]
            out = work / f"train_{m}"
            shutil.rmtree(out, ignore_errors=True)
            stuckat(args.stuckat, "train", "--model", m, "--limit-train", "64", "--limit-test", "64", "--epochs", "1",
                    "--batch", "32", *flags, "--out", str(out))
            sources[m] = (out / "checkpoint.safetensors", flags, (1, 28, 28) if not flags else (3, 32, 32))
        for name, (path, flags, shape) in imported.items():
            sources[name] = (path, flags, shape)
        for name, (ck, flags, shape) in sources.items():
            onnx_path = work / f"export_{name}.onnx"
            stuckat(args.stuckat, "export", "--checkpoint", str(ck), "--onnx", str(onnx_path))
            onnx.checker.check_model(onnx.load(str(onnx_path)), full_check=True)
            stuckat(args.stuckat, "eval", "--checkpoint", str(ck), "--limit-test", str(args.images), *flags,
                    "--save-logits", str(work / f"export_{name}.npy"))
            session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
            x = fashion_images(args.images, shape[1], shape[0])
            want = session.run(None, {session.get_inputs()[0].name: x})[0]
            ok = close(f"{name} (stuckat export, onnxruntime)", np.load(work / f"export_{name}.npy"), want)
            passed, failed = passed + ok, failed + (not ok)
        print("the research commands on the imported MobileNetV2")
        path, flags, shape = imported["mobilenet_v2"]
        ok = sweep_equals_eval(args.stuckat, path, flags, work)
        passed, failed = passed + ok, failed + (not ok)
        xbar = stuckat(args.stuckat, "xbar", "--checkpoint", str(path), "--size", "64", "--json", str(work / "xbar.json"))
        ok = "every layout verified" in xbar
        print(f"  {'xbar maps every layer (depthwise too)':34s} {'ok' if ok else 'FAIL'}")
        passed, failed = passed + ok, failed + (not ok)
        losses = train_losses(args.stuckat, work)
        ok = losses[-1] < losses[0]
        print(f"  {'train --model mobilenet_v2.onnx':34s} train loss per epoch {losses}  {'ok' if ok else 'FAIL'}")
        passed, failed = passed + ok, failed + (not ok)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"onnx_interop: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
