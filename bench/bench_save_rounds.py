"""Steady-state rounds of the 1 GiB save, with and without built-in visualizations.

    .venv/bin/python bench/bench_save_rounds.py [--rounds 3] [--quick]

Each round: flush, `np.save` + `fsync` of the array (the baseline), a fresh
repository, flush, `save_artifact` of the same array. Printed per round:
baseline seconds / artrepo seconds and their ratio (throughput of artrepo over
the baseline's), for the default materializer (which also draws
visualizations) and for one that draws none, under two disk protocols:

- fresh: both write new files and nothing is deleted until the end;
- reuse: the baseline overwrites one file each round and the repository of
  the last round is deleted before the next save.

This VM's disk writes blocks it has just freed at a very different speed
from others (the baseline swings from 0.2 to 3 s per GiB with it), so the two
protocols bracket what a user sees.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GiB, MiB, new_project, scratch, settle, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="64 MiB instead of 1 GiB")
    args = ap.parse_args()
    import numpy as np

    import artrepo
    from artrepo.materializers.numpy import NumpyMaterializer

    class WithoutVisualizations(NumpyMaterializer):
        SKIP_REGISTRATION = True

        def save_visualizations(self, data):
            return {}

    size = 64 * MiB if args.quick else GiB
    arr = np.random.default_rng(2).random(size // 8)
    tmp = scratch("save-rounds")
    try:
        for protocol in ("fresh", "reuse"):
            for label, mat in (("default", None), ("no visualizations", WithoutVisualizations)):
                rows, ratios = [], []
                for r in range(args.rounds):
                    name = f"{label[:2]}{r}" if protocol == "fresh" else "last"
                    settle()
                    with open(tmp / f"baseline-{name}.npy", "wb") as f:
                        base, _ = timed(lambda: (np.save(f, arr), f.flush(), os.fsync(f.fileno())))
                    new_project(tmp / f"proj-{name}")
                    settle()
                    ours, _ = timed(artrepo.save_artifact, arr, name="arr", materializer=mat)
                    rows.append(f"{base:.2f}/{ours:.2f} s = {base / ours:.2f}x")
                    ratios.append(base / ours)
                print(f"{protocol:>5} {label:>18}: median {statistics.median(ratios):.2f}x; " + "; ".join(rows))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
