#!/usr/bin/env python3
"""The anchor for bench/lenet5_cpu.py: LeNet-5 on Fashion-MNIST in PyTorch eager mode on the CPU,
with the same data, normalisation, batch, threads and SGD settings as `stuckat train`.
Prints one JSON object. Run with Debian's python3 (python3-torch)."""
import argparse, gzip, json, re, time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent


def normalization(prefix):
    # Same constants as the C++ loader: parsed from its header so they cannot drift.
    text = (ROOT / "framework/data/normalization.h").read_text()
    value = lambda name: float(re.search(r"inline constexpr double " + name + r" = ([0-9.]+);", text).group(1))
    return value(prefix + "Mean"), value(prefix + "Std")


def read_idx(path):
    data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(Path(data_dir) / f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = read_idx(Path(data_dir) / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    mean, std = normalization("kFashionMnist")
    return torch.from_numpy((x - mean) / std).unsqueeze(1).contiguous(), torch.from_numpy(y)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.0)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--save", help="also write the trained state_dict with safetensors.torch.save_file "
                    "(then: stuckat eval --checkpoint FILE --model lenet5 must give the same test_acc)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr, ytr = load(args.data_dir, "train")
    xte, yte = load(args.data_dir, "test")
    if args.limit_train:
        xtr, ytr = xtr[: args.limit_train], ytr[: args.limit_train]
    model = LeNet5()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.95)
    gen = torch.Generator().manual_seed(args.seed)

    train_seconds, images = 0.0, 0
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        t0 = time.perf_counter()
        for start in range(0, len(xtr), args.batch):
            idx = order[start: start + args.batch]
            xb, yb = xtr[idx], ytr[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            images += len(idx)
        train_seconds += time.perf_counter() - t0
        sched.step()

    model.eval()
    correct, loss_sum = 0, 0.0
    t0 = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(xte), 1000):
            out = model(xte[start: start + 1000])
            loss_sum += F.cross_entropy(out, yte[start: start + 1000], reduction="sum").item()
            correct += (out.argmax(1) == yte[start: start + 1000]).sum().item()
    eval_seconds = time.perf_counter() - t0
    if args.save:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.save)
    print(json.dumps({
        "impl": f"pytorch {torch.__version__}",
        "threads": args.threads,
        "train_images_per_s": images / train_seconds,
        "eval_images_per_s": len(xte) / eval_seconds,
        "test_acc": correct / len(xte),
        "test_loss": loss_sum / len(xte),
    }))


if __name__ == "__main__":
    main()
