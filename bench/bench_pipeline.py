"""Pipeline overheads (issue 3): cached runs against `import artrepo`, and scaling to 1,000 runs.

    .venv/bin/python bench/bench_pipeline.py [--runs 1000]

Figures, each against a baseline measured in the same process:
1. a 10-step linear pipeline of trivial steps, fully cached second run, as a
   whole `python pipeline.py` process and as `artrepo run linear.py:linear10`
   (the CLI's click-free path), versus `python -c "import artrepo"`, with
   artrepo's compiled modules cached (as installed);
2. the overhead per cached step (in process: a cached 10-step run minus a
   cached 1-step run, over 9 steps);
3. `artrepo log -n 20` and one cache lookup with 1,000 recorded runs versus
   with 10.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from common import compile_sources

LINEAR = textwrap.dedent('''
    from artrepo import pipeline, step

    @step
    def first(i: int = 0) -> int:
        return i

    @step
    def inc(x: int) -> int:
        return x + 1

    @pipeline
    def linear10(i: int = 0):
        x = first(i=i)
        for _ in range(9):
            x = inc(x)

    @pipeline
    def linear1(i: int = 0):
        first(i=i)

    if __name__ == "__main__":
        linear10()
''')


def wall(cmd: list[str], cwd: Path, repeat: int, env: dict | None = None) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved(cmds: dict[str, list[str]], cwd: Path, repeat: int, env: dict | None = None) -> dict[str, float]:
    """Median wall time of each command, run in turns so that load from elsewhere hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(repeat):
        for k, cmd in cmds.items():
            times[k].append(wall(cmd, cwd, 1, env))
    return {k: statistics.median(v) for k, v in times.items()}


def in_process(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cached_run_figures(project: Path) -> None:
    (project / "linear.py").write_text(LINEAR)
    py = sys.executable
    subprocess.run([py, "linear.py"], cwd=project, check=True)  # first run fills the cache
    compile_sources()  # as an installed package runs
    cli = str(Path(py).with_name("artrepo"))
    cmds = {"import": [py, "-c", "import artrepo"], "run": [py, "linear.py"], "cli": [cli, "run", "linear.py:linear10"]}
    interleaved(cmds, project, 2)  # warm-up
    t = interleaved(cmds, project, 15)
    print(f"import artrepo {t['import'] * 1000:5.1f} ms; 10-step fully cached run "
          f"(process) {t['run'] * 1000:6.1f} ms = {t['run'] / t['import']:.2f}x import (target <= 3x); "
          f"`artrepo run linear.py:linear10` {t['cli'] * 1000:6.1f} ms = {t['cli'] / t['import']:.2f}x import "
          f"(target <= 2.5x); load {os.getloadavg()[0]:.2f}")

    sys.path.insert(0, str(project))
    import linear

    linear.linear10()
    linear.linear1()
    t10 = in_process(linear.linear10, 20)
    t1 = in_process(linear.linear1, 20)
    print(f"cached run in process: 10 steps {t10 * 1000:.1f} ms, 1 step {t1 * 1000:.1f} ms; "
          f"per cached step {(t10 - t1) / 9 * 1000:.2f} ms (target <= 10 ms)")


def scaling_figures(project: Path, runs: int) -> None:
    from artrepo.client import active_repository
    import linear

    repo = active_repository(project)
    py = sys.executable

    def measure(label: str) -> tuple[float, float]:
        log = wall([py, "-m", "artrepo", "log", "-n", "20"], project, 9)
        key = linear.linear1(i=0).steps["first"].cache_key
        lookup = in_process(lambda: repo.cached_step(key), 2000)
        print(f"{label}: artrepo log -n 20 {log * 1000:.1f} ms, cache lookup {lookup * 1e6:.0f} us")
        return log, lookup

    for i in range(10 - len(repo.refs.list_prefix("refs/artrepo/runs"))):
        linear.linear1(i=i + 1)
    small = measure(f"{len(repo.refs.list_prefix('refs/artrepo/runs'))} runs")
    t = time.perf_counter()
    for i in range(runs):
        linear.linear1(i=1000 + i)  # a new cache key and a new version each time
    print(f"(recorded {runs} more runs in {time.perf_counter() - t:.1f} s)")
    large = measure(f"{len(repo.refs.list_prefix('refs/artrepo/runs'))} runs")
    print(f"ratio: log {large[0] / small[0]:.2f}x, cache lookup {large[1] / small[1]:.2f}x (target <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 recorded runs instead of --runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="artrepo-bench-") as tmp:
        project = Path(tmp)
        subprocess.run([sys.executable, "-m", "artrepo", "init", str(project)], check=True, stdout=subprocess.DEVNULL)
        os.chdir(project)
        cached_run_figures(project)
        scaling_figures(project, 100 if args.quick else args.runs)


if __name__ == "__main__":
    main()
