"""Building the repositories of bench_scale.py once, with the public API, and keeping them.

    .venv/bin/python bench/scale_build.py one-name 100000 DEST    # run by bench_scale.py, in a child

Kinds: `one-name` (N versions of one name), `many-names` (N versions over
N / 10 names, saved round-robin so that every name grows), `runs` (N runs of
a 3-step pipeline, each step executed: 3 versions per run; N counts runs,
so bench_scale.py's N versions compare `runs-<N/10>`). Each build ends
with `artrepo gc --grace 0` (maintenance), writes `built.json`, and is
reused while its build version and size match. Saves run without their
flushes (one `sync` at the end): the build measures nothing.
"""
from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

BUILD_VERSION = 3  # bump when what a build holds changes

PIPELINE = textwrap.dedent('''
    from artrepo import pipeline, step

    @step
    def load(i: int) -> int:
        return i

    @step
    def double(x: int) -> int:
        return 2 * x

    @step
    def report(x: int) -> str:
        return f"value {x}"

    @pipeline
    def hourly(i: int = 0):
        report(double(load(i)))
''')


def progress(done: int, total: int, started: float) -> None:
    if done and (done % max(1, total // 20) == 0 or done == total):
        rate = done / (time.time() - started)
        print(f"  {done}/{total} ({rate:.0f}/s)", flush=True)


def no_sync() -> None:
    """Building measures nothing: no flush per save (the data is synced once at the end)."""
    from artrepo import atomic

    atomic._syncfs = lambda fd: None
    atomic.fsync_dir = lambda path: None
    os.fsync = lambda fd: None


def build(kind: str, n: int, dest: Path) -> None:
    import artrepo
    from artrepo.repository import Repository

    no_sync()
    dest.mkdir(parents=True)
    Repository.init(dest)
    os.chdir(dest)
    started = time.time()
    if kind == "one-name":
        for i in range(n):
            artrepo.save_artifact(i, "counter")
            progress(i + 1, n, started)
    elif kind == "many-names":
        names = max(1, n // 10)
        for i in range(n):
            artrepo.save_artifact(i, f"metric{i % names:05d}")
            progress(i + 1, n, started)
    elif kind == "runs":
        (dest / "hourly.py").write_text(PIPELINE)
        sys.path.insert(0, str(dest))
        import hourly

        for i in range(n):
            hourly.hourly(i=i)
            progress(i + 1, n, started)
    else:
        raise SystemExit(f"unknown kind {kind}")
    seconds = time.time() - started
    os.sync()
    import subprocess

    subprocess.run([sys.executable, "-m", "artrepo", "gc", "--grace", "0"], check=True, stdout=subprocess.DEVNULL)
    (dest / "built.json").write_text(json.dumps({"kind": kind, "n": n, "version": BUILD_VERSION,
                                                 "seconds": seconds}))


if __name__ == "__main__":
    build(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
