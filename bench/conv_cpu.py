#!/usr/bin/env python3
"""CPU conv2d throughput per layer shape: stuckat's conv2d (bench_conv) vs PyTorch's F.conv2d in
the same run, same threads, batch and fp32; the VGG11 and ResNet-18 convolutions at 32x32 by
default. With --backward each call is a training step's convolution: the forward, then the
input, weight and bias gradients (autograd on both sides; GFLOP/s count 3x the forward's).
Prints GFLOP/s per shape, the ratio, and the time-weighted total over the shapes as a pass
meets them (each shape counted as often as the model has it).

    /usr/bin/python3 bench/conv_cpu.py --build build --threads 2 [--model vgg11|resnet18|all] [--backward]
"""
import argparse, json, platform, subprocess, time
from pathlib import Path

# name: (c_in, c_out, size, k, stride, pad, count in the model)
VGG11 = {
    "vgg.f0": (3, 64, 32, 3, 1, 1, 1), "vgg.f3": (64, 128, 16, 3, 1, 1, 1), "vgg.f6": (128, 256, 8, 3, 1, 1, 1),
    "vgg.f8": (256, 256, 8, 3, 1, 1, 1), "vgg.f11": (256, 512, 4, 3, 1, 1, 1), "vgg.f13": (512, 512, 4, 3, 1, 1, 1),
    "vgg.f16": (512, 512, 2, 3, 1, 1, 2),
}
RESNET18 = {
    "res.conv1": (3, 64, 32, 3, 1, 1, 1), "res.l1": (64, 64, 32, 3, 1, 1, 4), "res.l2.down": (64, 128, 32, 3, 2, 1, 1),
    "res.l2": (128, 128, 16, 3, 1, 1, 3), "res.l2.sc": (64, 128, 32, 1, 2, 0, 1), "res.l3.down": (128, 256, 16, 3, 2, 1, 1),
    "res.l3": (256, 256, 8, 3, 1, 1, 3), "res.l3.sc": (128, 256, 16, 1, 2, 0, 1), "res.l4.down": (256, 512, 8, 3, 2, 1, 1),
    "res.l4": (512, 512, 4, 3, 1, 1, 3), "res.l4.sc": (256, 512, 8, 1, 2, 0, 1),
}


def flops(c, batch, backward):
    cin, cout, size, k, stride, pad, _ = c
    out = (size + 2 * pad - k) // stride + 1
    return (3.0 if backward else 1.0) * 2.0 * batch * cout * out * out * cin * k * k


def torch_ms(c, batch, seconds, backward):
    import torch
    import torch.nn.functional as F
    cin, cout, size, k, stride, pad, _ = c
    x, w, b = torch.rand(batch, cin, size, size) * 2 - 1, torch.rand(cout, cin, k, k) * 2 - 1, torch.rand(cout)
    out = (size + 2 * pad - k) // stride + 1
    dy = torch.rand(batch, cout, out, out) * 2 - 1
    for t in (x, w, b):
        t.requires_grad_(backward)

    def step():
        y = F.conv2d(x, w, b, stride, pad)
        if backward:
            y.backward(dy)  # accumulates into x.grad, w.grad, b.grad, as stuckat's does

    with torch.set_grad_enabled(backward):
        for _ in range(2):
            step()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds or n < 3:
            step()
            n += 1
        return 1e3 * (time.perf_counter() - t0) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--model", default="all", choices=["vgg11", "resnet18", "all"])
    ap.add_argument("--backward", action="store_true", help="time forward + input, weight and bias gradients")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    shapes = {**(VGG11 if args.model in ("vgg11", "all") else {}), **(RESNET18 if args.model in ("resnet18", "all") else {})}
    cmd = [str(Path(args.build) / "bin/bench_conv"), "--batch", str(args.batch), "--seconds", str(args.seconds),
           "--threads", str(args.threads)] + (["--backward"] if args.backward else [])
    for name, c in shapes.items():
        cmd += ["--case", ":".join(str(v) for v in (name,) + c[:6])]
    ours = {}
    for line in subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines():
        j = json.loads(line)
        ours[j["case"]] = j["ms"]
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, {args.threads} threads, batch {args.batch}, "
          f"torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{'shape':14} {'stuckat GFLOP/s':>16} {'PyTorch GFLOP/s':>16} {'ratio':>7}")
    totals = {}
    for name, c in shapes.items():
        theirs = torch_ms(c, args.batch, args.seconds, args.backward)
        f = flops(c, args.batch, args.backward)
        print(f"{name:14} {f / ours[name] * 1e-6:16.1f} {f / theirs * 1e-6:16.1f} {theirs / ours[name]:7.2f}")
        model = name.split(".")[0]
        t = totals.setdefault(model, [0.0, 0.0])
        t[0] += c[6] * ours[name]
        t[1] += c[6] * theirs
    for model, (a, b) in totals.items():
        print(f"{model + ' convs':14} {a:13.1f} ms {b:13.1f} ms {b / a:7.2f}   (one {'training step' if args.backward else 'forward pass'}'s convolutions)")


if __name__ == "__main__":
    main()
