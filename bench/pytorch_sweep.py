#!/usr/bin/env python3
"""The PyTorch anchor for `stuckat sweep`: the loop researchers write today. For each point
(layer, bit, stuck value, rate): copy the state_dict, quantize the layer to Q4.11 int16 words,
force the bit with & / | on a random fraction `rate` of the words, dequantize, load, evaluate the
10k Fashion-MNIST test images. Prints one JSON line with points/s and the per-point accuracies.
With --device cuda the state_dict, the words, the random draws and the evaluation stay on the GPU.

    /usr/bin/python3 bench/pytorch_sweep.py --checkpoint ckpt/checkpoint.safetensors --threads 2 [--device cuda]
"""
import argparse, copy, json, sys, time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pytorch_lenet5 import LeNet5, load  # same model definition and data loading as the training bench
from safetensors_load import load_file

FRAC_BITS = 11  # Q4.11


def quantize(w):
    # Two's complement Q4.11: round to nearest, saturate to the int16 range.
    return torch.clamp(torch.round(w * (1 << FRAC_BITS)), -32768, 32767).to(torch.int16)


def dequantize(words):
    return words.to(torch.float32) / (1 << FRAC_BITS)


def force_bit(words, bit, stuck, rate, generator):
    faulty = torch.rand(words.shape, generator=generator, device=words.device) < rate
    mask = torch.tensor(1 << bit if bit < 15 else -32768, dtype=torch.int16, device=words.device)  # bit 15 is the int16 sign bit
    forced = (words | mask) if stuck == 1 else (words & ~mask)
    return torch.where(faulty, forced, words)


def evaluate(model, x, y, batch):
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(x[i:i + batch])
            loss += F.cross_entropy(logits, y[i:i + batch], reduction="sum").item()
            correct += (logits.argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x), loss / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--layers", default="conv1,conv2,fc1,fc2,fc3")
    ap.add_argument("--bits", default="3,7,11,14,15")
    ap.add_argument("--stuck", default="0,1")
    ap.add_argument("--rates", default="0.01,0.05")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    x, y = load(args.data_dir, "test")
    x, y = x.to(dev), y.to(dev)
    # Model tensors only (a checkpoint may also carry prune or fault masks).
    state = {k: v.to(dev) for k, v in load_file(args.checkpoint).items()
             if not k.startswith(("prune.", "fault_and.", "fault_or."))}
    model = LeNet5().to(dev)
    model.load_state_dict(state)
    model.eval()
    gen = torch.Generator(device=dev).manual_seed(0)
    points = [(l, int(b), int(s), float(r)) for l in args.layers.split(",") for b in args.bits.split(",")
              for s in args.stuck.split(",") for r in args.rates.split(",")]
    accs = []

    def run_point(layer, bit, stuck, rate, generator):
        sd = copy.deepcopy(state)
        for name in list(sd):  # every conv/linear weight is stored as Q4.11 words
            if name.endswith(".weight"):
                words = quantize(sd[name])
                if name == layer + ".weight":
                    words = force_bit(words, bit, stuck, rate, generator)
                sd[name] = dequantize(words)
        model.load_state_dict(sd)
        return evaluate(model, x, y, args.batch)[0]

    if dev.type == "cuda":
        # Library start-up (cuBLAS/cuDNN handles, first kernel loads) outside the timer, as
        # `stuckat sweep --device cuda` starts CUDA and cuBLAS and loads its own kernels before its
        # timer: one clean evaluation and one untimed iteration of the loop (its own generator, so
        # the timed points draw the same faults as without it).
        evaluate(model, x, y, args.batch)
        run_point(*points[0], torch.Generator(device=dev).manual_seed(1))
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for layer, bit, stuck, rate in points:
        accs.append(run_point(layer, bit, stuck, rate, gen))
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    print(json.dumps({"points": len(points), "seconds": seconds, "points_per_s": len(points) / seconds,
                      "threads": args.threads, "device": args.device, "batch": args.batch,
                      "device_name": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
                      "torch": torch.__version__, "accuracies": accs}))


if __name__ == "__main__":
    main()
