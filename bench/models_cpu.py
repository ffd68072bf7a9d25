#!/usr/bin/env python3
"""VGG11 and ResNet-18 on the CPU, whole models: stuckat's `train` and `eval` against the same
architectures in PyTorch (Debian python3-torch; bench/gpu/pytorch_train.py's models) in the same
run, same threads, batch sizes and fp32. stuckat trains on Fashion-MNIST padded to 32x32x3 (its
training images per second over the epoch, from metrics.jsonl) and evaluates the test split;
PyTorch runs the same number of images of that shape from memory. Runs alternate; the best of
each is kept. Prints a table with the ratios; --before BUILD adds another build's figures from the
same runs (a before / after of a change).

    /usr/bin/python3 bench/models_cpu.py --build build --threads 2 --repeats 2 [--before OLD_BUILD]
"""
import argparse, datetime, json, platform, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def stuckat_run(args, build, model, out_dir):
    base = [str(Path(build) / "bin/stuckat")]
    data = ["--data", "fashion-mnist", "--data-dir", args.data_dir, "--resize", "32", "--channels", "3",
            "--threads", str(args.threads)]
    subprocess.run(base + ["train", "--model", model, *data, "--limit-train", str(args.train_images),
                           "--limit-test", "64", "--batch", str(args.batch), "--epochs", "1", "--out", out_dir],
                   check=True, capture_output=True, text=True)
    metrics = json.loads(Path(out_dir, "metrics.jsonl").read_text().strip().splitlines()[-1])
    ev = subprocess.run(base + ["eval", "--checkpoint", str(Path(out_dir, "checkpoint.safetensors")), *data,
                                "--limit-test", str(args.eval_images), "--batch", str(args.eval_batch)],
                        check=True, capture_output=True, text=True).stdout
    return metrics["train_images_per_s"], json.loads(ev.strip().splitlines()[-1])["images_per_s"]


def torch_run(args, model):
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, str(HERE / "gpu"))
    from pytorch_train import MODELS
    torch.set_num_threads(args.threads)
    make, shape = MODELS[model]
    torch.manual_seed(0)
    net = make()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.rand((args.train_images,) + shape) * 2 - 1
    y = torch.randint(0, 10, (args.train_images,))
    net.train()
    t0 = time.perf_counter()
    for i in range(0, args.train_images, args.batch):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x[i:i + args.batch]), y[i:i + args.batch])
        loss.item()
        loss.backward()
        opt.step()
    train = args.train_images / (time.perf_counter() - t0)
    xe = torch.rand((args.eval_images,) + shape) * 2 - 1
    net.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, args.eval_images, args.eval_batch):
            net(xe[i:i + args.eval_batch]).argmax(1)
    return train, args.eval_images / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--before", help="a second build to measure in the same runs")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="vgg11,resnet18")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--train-images", type=int, default=1280)
    ap.add_argument("--eval-images", type=int, default=1000)
    ap.add_argument("--eval-batch", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=2, help="alternating runs of each; the best is kept")
    args = ap.parse_args()
    print(f"CPU, {args.threads} threads, training batch {args.batch} over {args.train_images} images, evaluation "
          f"batch {args.eval_batch} over {args.eval_images}, best of {args.repeats}, "
          f"{platform.processor() or platform.machine()}, {datetime.date.today()}")
    before = f"{'before':>10}" if args.before else ""
    print(f"{'model':<10}{'mode':<7}{before}{'stuckat':>10}{'pytorch':>10}{'ratio':>8}   (images/s)")
    for model in args.models.split(","):
        ours, olds, theirs = [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeats):
                if args.before:
                    olds.append(stuckat_run(args, args.before, model, str(Path(tmp, f"old{r}"))))
                ours.append(stuckat_run(args, args.build, model, str(Path(tmp, f"run{r}"))))
                theirs.append(torch_run(args, model))
        for k, mode in enumerate(("train", "eval")):
            a, b = max(o[k] for o in ours), max(t[k] for t in theirs)
            old = f"{max(o[k] for o in olds):>10.1f}" if olds else ""
            print(f"{model:<10}{mode:<7}{old}{a:>10.1f}{b:>10.1f}{a / b:>7.2f}x", flush=True)


if __name__ == "__main__":
    main()
