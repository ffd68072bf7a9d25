#!/usr/bin/python3
"""Cross-check stuckat's safetensors files against the Python `safetensors` package.

Why: stuckat promises checkpoints readable by `safetensors.torch.load_file` and import of
PyTorch-exported files. The C++ tests check the format byte by byte against hand-built files;
this script checks it against the reference implementation itself, in both directions:

  1. Python writes `from_python.safetensors` with `safetensors.torch.save_file`
     (F32, F16, BF16, I64 tensors and metadata, values listed in make_python_tensors);
  2. the hidden Catch2 case `test_io "[interop]"` reads it, checks every value, and writes
     `for_python.safetensors` (F32, F16, BF16, I16, I32, I64, U8 and an empty tensor);
  3. Python loads that with `safetensors.torch.load_file`, prints names/dtypes/shapes and checks
     every value against the ones the C++ case wrote.

How to run (needs Debian's python3-torch and the `safetensors` package from PyPI, both installed
by scripts/install-bench-deps.sh; ctest runs it as `pytorch_interop`):

  /usr/bin/python3 scripts/safetensors_interop.py --test-binary build/bin/test_io

Exit status 0 when everything matched, 2 when torch or safetensors is missing.
"""
import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import safetensors
    import safetensors.torch as st
    import torch
except ImportError as e:
    print(f"safetensors_interop: {e.name} is not installed (scripts/install-bench-deps.sh installs it)",
          file=sys.stderr)
    sys.exit(2)

DTYPES = {
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I16": torch.int16,
    "I32": torch.int32,
    "I64": torch.int64,
    "U8": torch.uint8,
}


def make_python_tensors():
    # The C++ case checks exactly these values.
    return {
        "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1.0,
        "f16": torch.tensor([1.0, -2.0, math.inf, 2.0**-24, 65504.0], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -2.5, 3.140625], dtype=torch.bfloat16),
        "nested.i64": torch.tensor([[-(2**40)], [0], [7]], dtype=torch.int64),
    }


def expected_from_stuckat():
    # What the C++ case writes (see tests/test_io.cpp, "[.interop]").
    return {
        "conv1.weight": torch.tensor([0.25, -0.75, 2.0, 1e-3], dtype=torch.float32).reshape(1, 1, 2, 2),
        "half": torch.tensor([1.0, -2.0, 2.0**-24], dtype=torch.float16),
        "brain": torch.tensor([1.0, -2.5], dtype=torch.bfloat16),
        "i16": torch.tensor([-32768, 12345], dtype=torch.int16),
        "labels": torch.tensor([3, -1], dtype=torch.int32),
        "bn.num_batches_tracked": torch.tensor(42, dtype=torch.int64),
        "pixels": torch.tensor([250, 251, 252, 253], dtype=torch.uint8),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--test-binary", default="build-io/bin/test_io", help="the built test_io executable")
    parser.add_argument("--keep", help="directory to keep the two files in (default: a temporary one)")
    args = parser.parse_args()

    print(f"using safetensors {safetensors.__version__} (the reference package), torch {torch.__version__}")

    workdir = args.keep or tempfile.mkdtemp(prefix="stuckat_interop_")
    os.makedirs(workdir, exist_ok=True)
    try:
        return check(args.test_binary, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def check(test_binary, workdir):
    from_python = os.path.join(workdir, "from_python.safetensors")
    for_python = os.path.join(workdir, "for_python.safetensors")
    st.save_file(make_python_tensors(), from_python, metadata={"model": "interop", "writer": "safetensors.torch"})
    print(f"(b) wrote {from_python}")

    env = dict(os.environ, STUCKAT_INTEROP_FROM_PYTHON=from_python, STUCKAT_INTEROP_FOR_PYTHON=for_python)
    run = subprocess.run([test_binary, "[interop]"], env=env, capture_output=True, text=True)
    print(run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "(no output)")
    if run.returncode != 0:
        print(run.stdout + run.stderr, file=sys.stderr)
        print("FAIL: stuckat did not read the Python-written file correctly", file=sys.stderr)
        return 1
    print("(b) stuckat read every tensor and the metadata of the Python-written file")

    tensors = st.load_file(for_python)
    with st.safe_open(for_python, framework="pt") as f:
        metadata = f.metadata()
    print(f"(a) loaded {for_python}: metadata {metadata}")
    ok = metadata == {"model": "interop", "writer": "stuckat"}
    expected = expected_from_stuckat()
    if set(tensors) != set(expected):
        print(f"FAIL: names {sorted(tensors)} != {sorted(expected)}")
        ok = False
    for name in sorted(expected):
        if name not in tensors:
            continue
        got, want = tensors[name], expected[name]
        match = got.dtype == want.dtype and got.shape == want.shape and torch.equal(got, want)
        ok = ok and match
        print(f"    {name:24s} {str(got.dtype):15s} {str(tuple(got.shape)):14s} {'ok' if match else 'MISMATCH'}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
