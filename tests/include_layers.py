#!/usr/bin/env python3
"""The layers point one way: a file may include its own folder, or a folder on a lower floor.

Floors, lowest first (docs/DESIGN.md draws them):
  base      errors, host/device qualifiers, 16-bit word formats, device discovery
  kernels   kernels/cpu, kernels/cuda: raw-pointer ops (references and fast paths)
  framework tensors, autograd, ops, nn, optim, data, io, train
  models, faults, cluster       (side by side: none includes another)
  sweep, pruning, onnx          (side by side)
  crossbar
  jobs      what a command does, as library functions with option structs
  cli       flag parsing, one call, printing
  examples, bench, tests        (may include anything)

Every `#include "..."` of a project file in a .h/.hpp/.cpp/.cu/.cuh file is checked. A line that
includes a folder on a higher floor, or a side-by-side folder, is printed as file:line and the
script exits 1. Usage: include_layers.py [ROOT] (default: the repository this script sits in).
"""
import os
import re
import sys

FLOORS = [["base"], ["kernels"], ["framework"], ["models", "faults", "cluster"], ["sweep", "pruning", "onnx"], ["crossbar"],
          ["jobs"], ["cli"], ["examples", "bench", "tests"]]
FLOOR = {folder: level for level, folders in enumerate(FLOORS) for folder in folders}
SOURCE = (".h", ".hpp", ".cpp", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def check(root):
    problems = []
    for folder in sorted(FLOOR):
        top = os.path.join(root, folder)
        for dirpath, _, names in os.walk(top):
            for name in sorted(names):
                if not name.endswith(SOURCE):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1).split("/")[0]
                        if target not in FLOOR or target == folder:
                            continue  # same folder, or not a project folder (e.g. a header beside it)
                        if FLOOR[target] >= FLOOR[folder]:
                            kind = "a side-by-side folder" if FLOOR[target] == FLOOR[folder] else "a higher floor"
                            problems.append(f"{rel}:{number}: {line.strip()}  ({folder}/ includes {kind}: {target}/)")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"include_layers: {len(problems)} include(s) point up or sideways; see the floors in docs/DESIGN.md")
        return 1
    print("include_layers: every include points down or within its folder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
