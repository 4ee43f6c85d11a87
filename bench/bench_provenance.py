"""Provenance and diff (issue 13): what capturing provenance adds to a cached run; `diff` of 1 GiB versions.

    .venv/bin/python bench/bench_provenance.py [--quick] [--rounds 15]

Figures, each against a baseline measured in the same run:
1. the 10-step linear pipeline of bench_pipeline.py, fully cached, with
   provenance captured (the default) and with `ARTREPO_PROVENANCE=off`, in
   turns: as whole `python linear.py` processes (and `import artrepo`, for
   the issue 3 ratio) and in one process (median of many runs each), so the
   difference is what capture adds (target: at most 5 ms), and the capture's
   own work in a cached run timed alone (the in-process difference swings
   with the run's `syncfs` by more than the capture costs);
2. a run whose first step executes, on and off (git status and the
   packages of the loaded modules, read once per process);
3. `diff` of two versions of a 1 GiB float64 array (the second with 1 MiB
   changed in the middle): `diff_versions` in a fresh process and `artrepo
   diff --json` as a whole process, against `import artrepo` (target: the
   diff answers in at most 0.5 s, without reading the data).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline import LINEAR, in_process, interleaved
from common import compile_sources



def cached_run_figures(project: Path, rounds: int) -> None:
    (project / "linear.py").write_text(LINEAR)
    py = sys.executable
    subprocess.run([py, "linear.py"], cwd=project, check=True)  # fills the cache
    compile_sources()
    cmds = {"import": ["env", py, "-c", "import artrepo"],
            "on": ["env", "ARTREPO_PROVENANCE=on", py, "linear.py"],
            "off": ["env", "ARTREPO_PROVENANCE=off", py, "linear.py"]}
    interleaved(cmds, project, 2)
    t = interleaved(cmds, project, rounds)
    print(f"whole process: import artrepo {t['import'] * 1000:.1f} ms; cached 10-step run with provenance "
          f"{t['on'] * 1000:.1f} ms = {t['on'] / t['import']:.2f}x import (target <= 3x), without "
          f"{t['off'] * 1000:.1f} ms: capture adds {(t['on'] - t['off']) * 1000:+.1f} ms ({t['on'] / t['off']:.3f}x)")

    sys.path.insert(0, str(project))
    import linear

    linear.linear10()
    times = {"on": [], "off": []}
    for _ in range(rounds):
        for mode in ("on", "off"):
            os.environ["ARTREPO_PROVENANCE"] = mode
            times[mode].append(in_process(linear.linear10, 5))
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    print(f"in process: cached 10-step run {on * 1000:.2f} ms with provenance, {off * 1000:.2f} ms without: "
          f"capture adds {(on - off) * 1000:+.2f} ms (target <= 5 ms)")

    from artrepo.client import active_repository
    from artrepo.repository.runs import provenance_rows
    from artrepo.runtime.provenance import RunCapture

    repo = active_repository()

    def capture() -> None:  # what a fully cached run does for provenance: read settings, record, write its blob
        record, diff = RunCapture(repo.git_dir, repo.root, str(project / "linear.py")).finish()
        provenance_rows(repo.objects, record, diff)

    os.environ["ARTREPO_PROVENANCE"] = "on"
    alone = min(in_process(capture, 200) for _ in range(3))
    print(f"in process: the capture of a fully cached run alone (settings, who, environment, its record's blob) "
          f"{alone * 1e6:.0f} us = {alone / on:.3f}x the cached run (target <= 5 ms)")

    times = {"on": [], "off": []}
    for i in range(rounds):
        for mode in ("on", "off"):
            os.environ["ARTREPO_PROVENANCE"] = mode
            start = time.perf_counter()
            linear.linear1(i=10_000 + 2 * i + (mode == "off"))  # a new parameter: the step executes
            times[mode].append(time.perf_counter() - start)
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    print(f"in process: a run whose step executes {on * 1000:.2f} ms with provenance, {off * 1000:.2f} ms "
          f"without: capture adds {(on - off) * 1000:+.2f} ms (git state, packages)")
    os.environ.pop("ARTREPO_PROVENANCE")


DIFF_SCRIPT = '''
import sys, time
t = time.perf_counter()
from artrepo.client import active_repository
from artrepo.diff import diff_versions
from artrepo.models import ArtifactVersion
repo = active_repository()
doc = diff_versions(repo, [ArtifactVersion(repo, repo.resolve(r)) for r in ("big:1", "big:2")])
print(time.perf_counter() - t, doc["storage"][1]["shared_bytes"])
'''


def diff_figures(project: Path, size: int, rounds: int) -> None:
    import numpy as np

    from artrepo import save_artifact

    os.chdir(project)
    array = np.random.default_rng(2).random(size // 8)
    start = time.perf_counter()
    save_artifact(array, "big")
    middle = array.size // 2
    array[middle:middle + (1 << 20) // 8] = 0.5
    save_artifact(array, "big")
    print(f"(saved two {size / 2**30:.2f} GiB versions in {time.perf_counter() - start:.1f} s)")
    del array
    py = sys.executable
    in_fresh = []
    for _ in range(rounds):
        out = subprocess.run([py, "-c", DIFF_SCRIPT], cwd=project, check=True, capture_output=True, text=True)
        seconds, shared = out.stdout.split()
        in_fresh.append(float(seconds))
    cmds = {"import": [py, "-c", "import artrepo"], "diff": [py, "-m", "artrepo", "diff", "big:1", "big:2", "--json"]}
    interleaved(cmds, project, 2)
    t = interleaved(cmds, project, rounds)
    print(f"diff of two {size / 2**30:.2f} GiB array versions ({int(shared) / 2**20:.0f} MiB shared): "
          f"diff_versions in a fresh process {statistics.median(in_fresh) * 1000:.1f} ms; `artrepo diff --json` "
          f"process {t['diff'] * 1000:.1f} ms = {t['diff'] / t['import']:.2f}x `import artrepo` "
          f"({t['import'] * 1000:.1f} ms) (target <= 0.5 s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="64 MiB arrays instead of 1 GiB")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    scratch = Path(os.environ.get("BENCH_SCRATCH", "/tmp/artrepo-bench"))
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="artrepo-provenance-", dir=scratch) as tmp:
        project = Path(tmp) / "pipeline"
        subprocess.run([sys.executable, "-m", "artrepo", "init", str(project)], check=True, stdout=subprocess.DEVNULL)
        os.chdir(project)
        cached_run_figures(project, args.rounds)
        data = Path(tmp) / "data"
        subprocess.run([sys.executable, "-m", "artrepo", "init", str(data)], check=True, stdout=subprocess.DEVNULL)
        diff_figures(data, (64 << 20) if args.quick else (1 << 30), max(5, args.rounds // 3))


if __name__ == "__main__":
    main()
