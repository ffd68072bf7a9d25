#!/usr/bin/env python3
"""LeNet-5 on Fashion-MNIST, CPU: stuckat vs PyTorch (Debian python3-torch) in the same run,
same threads, batch, data and SGD settings. Prints a table with the ratios.

    /usr/bin/python3 bench/lenet5_cpu.py --build build --threads 2 --repeats 3
"""
import argparse, json, platform, subprocess, sys, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs of each; the best is kept")
    args = ap.parse_args()
    ours_cmd = [str(Path(args.build) / "bin/bench_lenet5"), "--threads", str(args.threads), "--batch", str(args.batch)]
    torch_cmd = [sys.executable, str(HERE / "pytorch_lenet5.py"), "--threads", str(args.threads),
                 "--batch", str(args.batch)]
    ours, theirs = [], []
    for _ in range(args.repeats):
        ours.append(run(ours_cmd))
        theirs.append(run(torch_cmd))
    best = lambda rows, key: max(r[key] for r in rows)
    print(f"LeNet-5 Fashion-MNIST, batch {args.batch}, {args.threads} threads, best of {args.repeats}, "
          f"{platform.processor() or platform.machine()}, {datetime.date.today()}")
    print(f"{'metric':<24}{'stuckat':>12}{'pytorch':>12}{'ratio':>8}")
    for key in ("train_images_per_s", "eval_images_per_s"):
        a, b = best(ours, key), best(theirs, key)
        print(f"{key:<24}{a:>12.0f}{b:>12.0f}{a / b:>7.2f}x")
    print(f"{'test_acc (1 epoch)':<24}{ours[0]['test_acc']:>12.4f}{theirs[0]['test_acc']:>12.4f}")


if __name__ == "__main__":
    main()
