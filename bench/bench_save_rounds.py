"""Steady-state rounds of the 1 GiB save, with and without built-in visualizations.

    .venv/bin/python bench/bench_save_rounds.py [--rounds 3] [--quick]

Each round, as in bench_core.py's array section: flush, `np.save` + `fsync` of
the array (the baseline), a fresh repository, flush, `save_artifact` of the same
array. Printed per round: baseline seconds / artrepo seconds and their ratio
(throughput of artrepo over the baseline's), for the default materializer
(which also draws visualizations) and for one that draws none.
"""
from __future__ import annotations

import argparse
import os
import shutil
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
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        for label, mat in (("default", None), ("no visualizations", WithoutVisualizations)):
            rows = []
            for _ in range(args.rounds):
                settle()
                with open(tmp / "baseline.npy", "wb") as f:
                    base, _ = timed(lambda: (np.save(f, arr), f.flush(), os.fsync(f.fileno())))
                new_project(tmp / "proj")
                settle()
                ours, _ = timed(artrepo.save_artifact, arr, name="arr", materializer=mat)
                rows.append(f"{base:.2f}/{ours:.2f} s = {base / ours:.2f}x")
            print(f"{label:>18}: " + "; ".join(rows))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
