#!/usr/bin/env python3
"""LeNet-5 on Fashion-MNIST, CPU: `stuckat train` itself (the images/s the command reports, so
the figure is what a user gets) against PyTorch (Debian python3-torch) in the same run, with the
same threads, batch, data and SGD settings, alternating. Prints a table with the ratios and each
side's peak resident memory (GNU time's maximum RSS). The ratio is given three ways: best against
best, median against median, and the median of the alternating pairs' own ratios (run r of each
side back to back, so a pair shares the machine's state; on a noisy shared VM this is the steadiest).

    /usr/bin/python3 bench/lenet5_cpu.py --build build --threads 2 --repeats 3 [--busy-neighbour]

--busy-neighbour runs both sides next to one spinning process (`sh -c 'while :; do :; done'`),
as on a shared node.
"""
import argparse, datetime, json, os, platform, re, statistics, subprocess, sys, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd):
    """Runs cmd under GNU time; returns (stdout, stderr without time's line, peak RSS in MB)."""
    proc = subprocess.run(["/usr/bin/time", "-f", "peak_rss_kb %M"] + cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    rss = int(re.search(r"peak_rss_kb (\d+)", proc.stderr).group(1)) / 1024
    return proc.stdout, rss


def run_stuckat(args, out_dir):
    cmd = [str(Path(args.build) / "bin/stuckat"), "train", "--model", "lenet5", "--data", "fashion-mnist",
           "--epochs", "1", "--batch", str(args.batch), "--threads", str(args.threads), "--lr", "0.1",
           "--momentum", "0", "--weight-decay", "5e-4", "--seed", "0", "--out", out_dir]
    _, rss = timed(cmd)
    row = json.loads(Path(out_dir, "metrics.jsonl").read_text().strip().splitlines()[-1])
    return {"train_images_per_s": row["train_images_per_s"], "eval_images_per_s": row["eval_images_per_s"],
            "test_acc": row["test_acc"], "rss_mb": rss}


def run_torch(args):
    out, rss = timed([sys.executable, str(HERE / "pytorch_lenet5.py"), "--threads", str(args.threads),
                      "--batch", str(args.batch)])
    row = json.loads(out.strip().splitlines()[-1])
    row["rss_mb"] = rss
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs of each")
    ap.add_argument("--busy-neighbour", action="store_true", help="one spinning process beside both sides")
    args = ap.parse_args()
    busy = subprocess.Popen(["sh", "-c", "while :; do :; done"]) if args.busy_neighbour else None
    ours, theirs = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeats):
                ours.append(run_stuckat(args, os.path.join(tmp, f"run{r}")))
                theirs.append(run_torch(args))
    finally:
        if busy:
            busy.kill()
    best = lambda rows, key: max(r[key] for r in rows)
    median = lambda rows, key: statistics.median(r[key] for r in rows)
    print(f"LeNet-5 Fashion-MNIST, `stuckat train` vs PyTorch, batch {args.batch}, {args.threads} threads, "
          f"{args.repeats} alternating runs{', one busy neighbour process' if busy else ''}, "
          f"{platform.processor() or platform.machine()}, {datetime.date.today()}")
    print(f"{'metric':<32}{'stuckat':>12}{'pytorch':>12}{'ratio':>8}")
    for key in ("train_images_per_s", "eval_images_per_s"):
        for name, pick in (("best", best), ("median", median)):
            a, b = pick(ours, key), pick(theirs, key)
            print(f"{key + ', ' + name:<32}{a:>12.0f}{b:>12.0f}{a / b:>7.2f}x")
        paired = statistics.median(o[key] / t[key] for o, t in zip(ours, theirs))
        print(f"{key + ', paired':<32}{'':>24}{paired:>7.2f}x")
    runs = lambda rows: " ".join(f"{r['train_images_per_s']:.0f}" for r in rows)
    print(f"{'train runs (images/s)':<32}  stuckat {runs(ours)}; pytorch {runs(theirs)}")
    print(f"{'peak RSS (MB)':<32}{max(r['rss_mb'] for r in ours):>12.0f}{max(r['rss_mb'] for r in theirs):>12.0f}")
    print(f"{'test_acc (1 epoch)':<32}{ours[0]['test_acc']:>12.4f}{theirs[0]['test_acc']:>12.4f}")


if __name__ == "__main__":
    main()
