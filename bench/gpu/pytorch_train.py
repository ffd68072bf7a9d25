#!/usr/bin/env python3
"""The PyTorch eager fp32 anchor for bench_gpu_train: the same three models (LeNet-5, VGG11,
ResNet-18 with stuckat's layer shapes), the same synthetic batch kept on the GPU, the same SGD
settings and the same per-step loss read-back. TF32 is switched off for convolutions and
matmuls so both sides compute in fp32; cuDNN picks its algorithms (benchmark mode on, which is
what a user training with fixed shapes would enable). Prints one JSON object per model."""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def vgg11():
    layers, c = [], 3
    for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        blocks, c = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            blocks += [BasicBlock(c, cout, stride), BasicBlock(cout, cout, 1)]
            c = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        h = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


MODELS = {"lenet5": (LeNet5, (1, 28, 28)), "vgg11": (vgg11, (3, 32, 32)), "resnet18": (ResNet18, (3, 32, 32))}


def measure(name, batch, seconds):
    make, shape = MODELS[name]
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = make().to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.rand((batch,) + shape, device=dev) * 2 - 1
    y = torch.randint(0, 10, (batch,), device=dev)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.item()
        loss.backward()
        opt.step()

    def eval_step():
        with torch.no_grad():
            logits = model(x)
            F.cross_entropy(logits, y).item()
            (logits.argmax(1) == y).sum().item()

    out = {"framework": "pytorch", "model": name, "batch": batch, "torch": torch.__version__,
           "device_name": torch.cuda.get_device_name(0)}
    for key, step, train in (("train_images_per_s", train_step, True), ("eval_images_per_s", eval_step, False)):
        model.train(train)
        for _ in range(5):
            step()
        torch.cuda.synchronize()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            step()
            n += 1
        torch.cuda.synchronize()
        out[key] = n * batch / (time.perf_counter() - t0)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", action="append", required=True, help="name:batch, e.g. lenet5:64 (repeatable)")
    p.add_argument("--seconds", type=float, default=2.0)
    a = p.parse_args()
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    for spec in a.model:
        name, batch = spec.split(":")
        print(json.dumps(measure(name, int(batch), a.seconds)), flush=True)


if __name__ == "__main__":
    main()
