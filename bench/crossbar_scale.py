#!/usr/bin/env python3
"""Crossbar counting and reordering at scale: stuckat (bench_crossbar, production code) vs the
numpy tile count / compaction count and scipy's reverse_cuthill_mckee, on the same synthetic
matrices in the same run. Checks that numpy and stuckat agree on every count before timing
matters, then prints times, ratios and tiles saved; then the pruned-model table
(`stuckat xbar --model M --density D`).

    /usr/bin/python3 bench/crossbar_scale.py --build build [--min-nnz 1e4] [--max-nnz 1e8] [--repeats 3] [--models]

Default sizes 1e4..1e7 nonzeros (a few minutes on 2 cores); --max-nnz 1e8 adds 1e8 (needs ~10 GB).
`best` runs at every size up to --best-max (its time is the best of --repeats, as the others').
"""
import argparse, datetime, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee


def best_time(f, repeats):
    best, out = 1e30, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def np_counts(row_ptr, col, n, s):
    """Tiles / column segments / row segments holding a nonzero, the numpy way (unique keys)."""
    r = np.repeat(np.arange(n, dtype=np.int64), np.diff(row_ptr))
    c = col.astype(np.int64)
    ncb = -(-n // s)
    return (np.unique((r // s) * ncb + c // s).size, np.unique((r // s) * n + c).size,
            np.unique(r * ncb + c // s).size)


def np_compact_tiles(row_ptr, col, n, s):
    """Compaction: nonzero rows gathered, bands of s rows, per band distinct columns / s."""
    deg = np.diff(row_ptr)
    band_of_row = (np.cumsum(deg > 0) - 1) // s
    band = np.repeat(band_of_row, deg)
    u = np.unique(band * n + col.astype(np.int64))
    per_band = np.bincount(u // n)
    return int(np.sum(-(-per_band // s)))


def tiles_after_perm(row_ptr, col, n, s, perm):
    pos = np.empty(n, dtype=np.int64)
    pos[perm] = np.arange(n, dtype=np.int64)
    r = pos[np.repeat(np.arange(n, dtype=np.int64), np.diff(row_ptr))]
    c = pos[col]
    return np.unique((r // s) * (-(-n // s)) + c // s).size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-nnz", type=float, default=1e7)
    ap.add_argument("--min-nnz", type=float, default=1e4)
    ap.add_argument("--best-max", type=float, default=1e8, help="run 'best' only up to this many nonzeros")
    ap.add_argument("--models", action="store_true", help="also the pruned-model table (VGG11/16/19, ResNet-18)")
    ap.add_argument("--models-only", action="store_true", help="only the pruned-model table")
    ap.add_argument("--prune-scope", default="global", choices=("global", "layer"),
                    help="pruned models: one magnitude threshold for the model, or each layer at the density")
    args = ap.parse_args()
    bench = str(Path(args.build) / "bin/bench_crossbar")
    sizes = [] if args.models_only else [n for n in (1e4, 1e5, 1e6, 1e7, 1e8) if args.min_nnz <= n <= args.max_nnz]
    s = args.size
    print(f"# crossbar scale bench {datetime.datetime.now().isoformat(timespec='seconds')}, {platform.machine()}, "
          f"{os.cpu_count()} cores, numpy {np.__version__}, scipy {scipy.__version__}, S = {s}, best of {args.repeats}")
    if sizes:
        print("| rows | nnz | count: stuckat 1 thr / 2 thr | numpy | ratio (1 thr) | compaction count: stuckat 1 thr | numpy |"
              " ratio | rcm: stuckat | scipy | ratio | best: stuckat | tiles in place / compact / rcm (ours, scipy) / spara / best |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for kind in ("uniform", "powerlaw"):
        for nnz in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                strategies = "compact,rcm,spara" + (",best" if nnz <= args.best_max else "")
                res = subprocess.run([bench, "--kind", kind, "--nnz", str(int(nnz)), "--size", str(s), "--repeats",
                                      str(args.repeats), "--strategies", strategies, "--best-max", str(int(args.best_max)),
                                      "--write", tmp],
                                     check=True, capture_output=True, text=True)
                ours = json.loads(res.stdout.strip().splitlines()[-1])
                n = ours["n"]
                row_ptr = np.fromfile(Path(tmp) / "row_ptr.i64", dtype=np.int64)
                col = np.fromfile(Path(tmp) / "col_idx.i32", dtype=np.int32)
            t_np, (nt, ncs, nrs) = best_time(lambda: np_counts(row_ptr, col, n, s), args.repeats)
            cnt = ours["counts"]
            assert (nt, ncs, nrs) == (cnt["nonzero_tiles"], cnt["nonzero_col_segments"], cnt["nonzero_row_segments"]), \
                f"numpy counts {(nt, ncs, nrs)} differ from stuckat {cnt}"
            t_npc, nc = best_time(lambda: np_compact_tiles(row_ptr, col, n, s), args.repeats)
            assert nc == ours["tiles"]["compact"], f"numpy compaction {nc} != stuckat {ours['tiles']['compact']}"
            T = ours["times"]
            rcm_cell, scipy_tiles = "-", "-"
            if "rcm" in T:
                a = sp.csr_matrix((np.ones(col.size, dtype=np.float32), col, row_ptr), shape=(n, n))
                t_rcm, perm = best_time(lambda: reverse_cuthill_mckee(a, symmetric_mode=False), args.repeats)
                scipy_tiles = tiles_after_perm(row_ptr, col, n, s, perm)
                rcm_cell = f"{T['rcm']:.3g} s | {t_rcm:.3g} s | {t_rcm / T['rcm']:.1f}x"
            else:
                rcm_cell = "- | - | -"
            tl = ours["tiles"]
            print(f"| {kind} {n} | {ours['nnz']:.0e} | {T['count_1thread']:.3g} / {T['count']:.3g} s | {t_np:.3g} s | "
                  f"**{t_np / T['count_1thread']:.0f}x** | {T['compact_count_1thread']:.3g} s | {t_npc:.3g} s | "
                  f"**{t_npc / T['compact_count_1thread']:.0f}x** | {rcm_cell} | "
                  f"{(format(T['best'], '.3g') + ' s') if 'best' in T else '-'} | {tl['none']} / {tl['compact']} / "
                  f"{tl.get('rcm', '-')}, {scipy_tiles} / {tl.get('spara', '-')} / {tl.get('best', '-')} |", flush=True)
            del row_ptr, col
    if args.models or args.models_only:
        stuckat = str(Path(args.build) / "bin/stuckat")
        names = ["none", "compact", "rcm", "rcm-sym", "rcm-slices", "spara", "best"]
        print(f"\n# pruned models ({args.prune_scope} magnitude pruning), S = {s}: tiles used (in place = all tiles; lower bound per layer, summed)")
        print("| model | density | tiles | lower bound | " + " | ".join(names) + " | best saves vs next best | seconds (all strategies) |")
        print("|---|---:|---:|---:|" + "---:|" * len(names) + "---:|---:|")
        for model in ("vgg11", "vgg16", "vgg19", "resnet18"):
            for d in ("0.04", "0.02", "0.01"):
                with tempfile.TemporaryDirectory() as tmp:
                    out = Path(tmp) / "r.json"
                    subprocess.run([stuckat, "xbar", "--model", model, "--density", d, "--seed", "0", "--size", str(s),
                                    "--prune-scope", args.prune_scope, "--json", str(out)], check=True, capture_output=True)
                    tot = json.loads(out.read_text())["total"]
                st = tot["strategies"]
                used = [st[k]["tiles_used"] for k in names]
                others = min(u for k, u in zip(names, used) if k != "best")
                secs = sum(st[k]["seconds"] for k in names)
                print(f"| {model} | {d} | {tot['tiles']} | {tot['lower_bound']['tiles']} | " + " | ".join(map(str, used))
                      + f" | {others - st['best']['tiles_used']} | {secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
