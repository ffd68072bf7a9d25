#!/usr/bin/env python3
"""Fault-sweep throughput on the CPU: `stuckat sweep` vs the PyTorch loop (bench/pytorch_sweep.py)
in the same run, on the same checkpoint, threads and 10k Fashion-MNIST test images. Grid: LeNet-5,
5 layers x 5 bits x 2 stuck values x 2 rates = 100 points (stuckat also writes its baseline row,
not counted). Prints a table with points/s and the ratio.

    /usr/bin/python3 bench/sweep_cpu.py --build build --threads 2 [--checkpoint ckpt.safetensors]

Without --checkpoint it first trains LeNet-5 for one epoch with `stuckat train`.
"""
import argparse, json, platform, re, subprocess, sys, tempfile, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRID = {"layers": "conv1,conv2,fc1,fc2,fc3", "bits": "3,7,11,14,15", "stuck": "0,1", "rates": "0.01,0.05"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint")
    ap.add_argument("--repeats", type=int, default=1, help="alternating runs of each; the best is kept")
    args = ap.parse_args()
    stuckat = str(Path(args.build) / "bin/stuckat")
    tmp = Path(tempfile.mkdtemp(prefix="sweep_bench_"))
    ckpt = args.checkpoint
    if not ckpt:
        subprocess.run([stuckat, "train", "--model", "lenet5", "--epochs", "1", "--threads", str(args.threads),
                        "--out", str(tmp / "ckpt")], check=True, capture_output=True)
        ckpt = str(tmp / "ckpt/checkpoint.safetensors")
    ours, theirs = [], []
    for rep in range(args.repeats):
        csv = tmp / f"sweep{rep}.csv"
        cmd = [stuckat, "sweep", "--checkpoint", ckpt, "--seeds", "0", "--formats", "q4.11", "--threads",
               str(args.threads), "--out", str(csv)] + [a for k, v in GRID.items() for a in (f"--{k}", v)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        m = re.search(r"evaluated (\d+) points .* in ([0-9.]+) s", out)
        ours.append((int(m.group(1)) - 1) / float(m.group(2)))  # the baseline row is not a fault point
        res = subprocess.run([sys.executable, str(HERE / "pytorch_sweep.py"), "--checkpoint", ckpt, "--threads",
                              str(args.threads)] + [a for k, v in GRID.items() for a in (f"--{k}", v)],
                             check=True, capture_output=True, text=True).stdout
        theirs.append(json.loads(res.strip().splitlines()[-1])["points_per_s"])
    best_ours, best_theirs = max(ours), max(theirs)
    print(f"# sweep bench {datetime.datetime.now().isoformat(timespec='seconds')} on {platform.processor() or platform.machine()}, "
          f"{args.threads} threads, LeNet-5, 10k Fashion-MNIST test images, 100 points (best of {args.repeats})")
    print("| | points/s | ratio |")
    print("|---|---:|---:|")
    print(f"| PyTorch loop (copy state_dict, quantize, force bits, evaluate) | {best_theirs:.2f} | 1.0x |")
    print(f"| stuckat sweep | {best_ours:.2f} | {best_ours / best_theirs:.1f}x |")


if __name__ == "__main__":
    main()
