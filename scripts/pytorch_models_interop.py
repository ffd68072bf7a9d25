#!/usr/bin/python3
"""Every built-in stuckat model against the same architecture in PyTorch.

For each model (lenet5, lenet5_bn, vgg11, vgg11_bn, vgg16, vgg16_bn, vgg19, vgg19_bn, resnet18)
this script builds the PyTorch network with stuckat's parameter names, gives it random weights
and random batch-norm running statistics (so normalisation is not the identity), and writes

  <model>.safetensors        its state_dict, with `safetensors.torch.save_file`
  <model>.input.safetensors  a batch of random inputs

Then the hidden Catch2 case `test_models "[interop]"` loads each file into the stuckat model
(every tensor name, shape and dtype must fit), runs it, and writes <model>.logits.safetensors
with stuckat's logits three ways: eval mode (running statistics), eval mode stage by stage (the
path the fault sweep takes) and training mode (the batch's statistics). This script reads those
with `safetensors.torch.load_file` and compares them with PyTorch's logits for the same weights
and inputs. Both directions of the file format and the models' arithmetic are checked at once.

Needs Debian's python3-torch and the `safetensors` package (scripts/install-bench-deps.sh).
Usage: /usr/bin/python3 scripts/pytorch_models_interop.py --test-binary build/bin/test_models
Exit status 0 when every model matched; 2 when torch or safetensors is missing (the ctest wrapper
treats that as a skip unless STUCKAT_REQUIRE_PYTORCH=1).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from safetensors.torch import load_file, save_file
except ImportError as e:
    print(f"pytorch_models_interop: {e.name} is not installed (scripts/install-bench-deps.sh installs it)",
          file=sys.stderr)
    sys.exit(2)

VGG = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class LeNet5(nn.Module):
    """conv(5x5, pad 2) -> [bn] -> pool -> relu, conv(5x5) -> [bn] -> pool -> relu, 3 linear layers."""

    def __init__(self, bn):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)
        if bn:
            self.bn1, self.bn2 = nn.BatchNorm2d(6), nn.BatchNorm2d(16)
            self.bn3, self.bn4 = nn.BatchNorm1d(120), nn.BatchNorm1d(84)
        self.bn = bn

    def forward(self, x):
        norm = (lambda name, h: getattr(self, name)(h)) if self.bn else (lambda name, h: h)
        h = F.relu(F.max_pool2d(norm("bn1", self.conv1(x)), 2))
        h = F.relu(F.max_pool2d(norm("bn2", self.conv2(h)), 2))
        h = F.relu(norm("bn3", self.fc1(torch.flatten(h, 1))))
        h = F.relu(norm("bn4", self.fc2(h)))
        return self.fc3(h)


class Vgg(nn.Module):
    """features.<i> as in torchvision's VGG (conv, [bn], relu, pools), classifier.0/2/4 of 512-512-256-10."""

    def __init__(self, depth, bn):
        super().__init__()
        layers, c = [], 3
        for v in VGG[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            layers.append(nn.Conv2d(c, v, 3, padding=1))
            if bn:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU())
            c = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                                        nn.Linear(256, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(h + (self.shortcut(x) if self.shortcut is not None else x))


class ResNet18(nn.Module):
    """The CIFAR ResNet-18: a 3x3 stem without pooling, layer1-4 of two basic blocks, global pooling, fc."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64)
        c = 64
        for i, (cout, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(c, cout, stride), BasicBlock(cout, cout, 1)))
            c = cout
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def build(name):
    bn = name.endswith("_bn")
    base = name[:-3] if bn else name
    if base == "lenet5":
        return LeNet5(bn), (1, 28, 28)
    if base == "resnet18":
        return ResNet18(), (3, 32, 32)
    return Vgg(int(base[3:]), bn), (3, 32, 32)


def randomize(model, gen):
    """Weights of the default init's scale but drawn here; batch-norm scale and shift and running
    statistics away from 1 and 0, so that every term of the normalisation matters."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            owner, field = name.rsplit(".", 1)
            if isinstance(model.get_submodule(owner), (nn.BatchNorm1d, nn.BatchNorm2d)):
                if field == "num_batches_tracked":
                    t.fill_(7)
                elif field in ("weight", "running_var"):
                    t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
                else:  # bias, running_mean
                    t.copy_(torch.randn(t.shape, generator=gen) * 0.2)
            else:
                fan_in = t[0].numel() if t.dim() > 1 else t.numel()
                t.copy_((torch.rand(t.shape, generator=gen) * 2 - 1) * (3.0 / fan_in) ** 0.5)


def compare(name, what, ours, theirs):
    """Both sides compute in float32 with different summation orders: the tolerance scales with the
    logits' size (1e-4 of the largest magnitude, plus 1e-5)."""
    if ours.shape != theirs.shape:
        return f"{name} {what}: shape {tuple(ours.shape)} vs PyTorch's {tuple(theirs.shape)}"
    scale = theirs.abs().max().item()
    err = (ours - theirs).abs().max().item()
    ok = err <= 1e-4 * scale + 1e-5
    print(f"{name:10s} {what:6s} max |logit| {scale:9.4f}  max |stuckat - PyTorch| {err:.2e}  {'ok' if ok else 'FAIL'}")
    return None if ok else f"{name} {what}: logits differ by {err:.3g} (max |logit| {scale:.3g})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--test-binary", required=True, help="stuckat's test_models executable")
    ap.add_argument("--models", default="lenet5,lenet5_bn,vgg11,vgg11_bn,vgg16,vgg16_bn,vgg19,vgg19_bn,resnet18")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--keep", help="write the files here and keep them (default: a temporary folder)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    workdir = args.keep or tempfile.mkdtemp(prefix="stuckat_models_interop_")
    os.makedirs(workdir, exist_ok=True)
    try:
        return check(args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def check(args, workdir):
    gen = torch.Generator().manual_seed(2026)
    expected = {}
    for name in args.models.split(","):
        model, shape = build(name)
        randomize(model, gen)
        x = torch.randn((args.batch, *shape), generator=gen)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{workdir}/{name}.safetensors",
                  metadata={"model": name, "writer": "safetensors.torch"})
        save_file({"input": x}, f"{workdir}/{name}.input.safetensors")
        with torch.no_grad():
            model.eval()
            eval_logits = model(x)
            model.train()
            train_logits = model(x)
        expected[name] = {"eval": eval_logits, "stages": eval_logits, "train": train_logits}

    env = dict(os.environ, STUCKAT_INTEROP_MODELS=workdir)
    run = subprocess.run([args.test_binary, "[interop]"], env=env, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout[-4000:], run.stderr[-2000:], sep="\n")
        print("pytorch_models_interop: the stuckat side failed", file=sys.stderr)
        return 1
    failures = []
    for name, want in expected.items():
        got = load_file(f"{workdir}/{name}.logits.safetensors")
        for what in ("eval", "stages", "train"):
            problem = compare(name, what, got[what], want[what])
            if problem:
                failures.append(problem)
    print(f"pytorch_models_interop: {len(expected) * 3 - len(failures)} passed, {len(failures)} failed")
    for f in failures:
        print("  " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
