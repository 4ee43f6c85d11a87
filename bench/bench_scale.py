"""Scale (issue 15): each command at a large repository size as a ratio of its cost at a small one.

    .venv/bin/python bench/bench_scale.py                      # 1,000 vs 100,000 versions, 100 vs 10,000 runs
    .venv/bin/python bench/bench_scale.py --large 10000        # 1,000 vs 10,000 (a build of 100k takes long)
    .venv/bin/python bench/bench_scale.py --quick              # 100 vs 1,000

Repositories are built once by bench/scale_build.py (public API, then `gc`)
into $BENCH_SCRATCH/scale/<kind>-<n> (default /tmp/artrepo-bench) and reused
while their build version matches: a rerun measures only. Kinds, for
--small/--large N: `one-name` (N versions of one name, `one-name-<N>`),
`many-names` (N versions over N / 10 names, `many-names-<N>`), `runs`
(N / 10 runs of a 3-step pipeline, 3 versions each: `runs-<N/10>`; a
build's own number is always its count of runs, so the defaults compare
100 with 10,000 runs). Commands that write (saves, push, rerun) work on a
copy (`cp -a`: a packed repository is a few files).

The dashboard (bench/scale_ui.py) is measured on the many-names and runs
repositories of both sizes: `artrepo ui` start until its first page answers,
and every page it serves; `--dashboard-only` measures only that.

Every figure is the median of REPEAT runs of a fresh CLI process (or, for
in-process figures, of many calls in one process), at both sizes, in this
run; each row prints the large/small ratio and the command that measures
it. Issue 15's bounds: ≤ 1.5x for per-item commands, "linear" for
whole-repository ones (ratio ≤ size ratio), fsck ≥ 20,000 versions/s.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common import compile_sources  # noqa: E402
from scale_build import BUILD_VERSION  # noqa: E402
from scale_ui import measure_dashboard  # noqa: E402

REPEAT = 5
PY = sys.executable


def base() -> Path:
    return Path(os.environ.get("BENCH_SCRATCH", "/tmp/artrepo-bench")) / "scale"


def built(kind: str, n: int) -> Path:
    """The cached repository of `kind` with `n` items, built (in a child) if absent or stale."""
    dest = base() / f"{kind}-{n}"
    meta = dest / "built.json"
    if meta.is_file():
        info = json.loads(meta.read_text())
        if info.get("version") == BUILD_VERSION and info.get("n") == n:
            return dest
    shutil.rmtree(dest, ignore_errors=True)
    print(f"building {kind} {n} into {dest} (once)", flush=True)
    subprocess.run([PY, str(BENCH / "scale_build.py"), kind, str(n), str(dest)], check=True)
    return dest


def copy_of(repo: Path, tag: str) -> Path:
    dest = base() / "work" / f"{repo.name}-{tag}"
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(repo), str(dest)], check=True)
    return dest


def cli(repo: Path, *args: str, repeat: int = REPEAT) -> float:
    """Median seconds of `artrepo ARGS` in `repo` (fresh process each)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run([PY, "-m", "artrepo", *args], cwd=repo, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - t)
        if proc.returncode not in (0, 3):
            raise SystemExit(f"artrepo {' '.join(args)} in {repo}: exit {proc.returncode}: {proc.stderr.strip()}")
    return statistics.median(times)


def in_process(repo: Path, code: str) -> float:
    """A child in `repo` runs `code`, which prints seconds per call; returns them."""
    out = subprocess.run([PY, "-c", code], cwd=repo, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"in {repo}: {out.stderr.strip()}")
    return float(out.stdout.strip().splitlines()[-1])


SAVE_COST = """
import os, time, statistics, artrepo
artrepo.load_artifact({name!r})
new = int.from_bytes(os.urandom(7), "little") << 8  # values no build stored: each save writes its chunk
times = []
for i in range({n}):
    t = time.perf_counter(); artrepo.save_artifact(new + i, {name!r}); times.append(time.perf_counter() - t)
print(statistics.median(times))
"""

LOAD_COST = """
import time, statistics, artrepo
artrepo.load_artifact({name!r})
times = []
for i in range(20):
    t = time.perf_counter(); artrepo.load_artifact({name!r}); times.append(time.perf_counter() - t)
print(statistics.median(times))
"""

FIRST_LOAD = """
import time
t = time.perf_counter()
import artrepo
artrepo.load_artifact({name!r})
print(time.perf_counter() - t)
"""


def files_under(repo: Path) -> int:
    return sum(len(files) for _d, _s, files in os.walk(repo / ".artrepo"))


def first_name(repo: Path) -> str:
    out = subprocess.run([PY, "-m", "artrepo", "list", "--json"], cwd=repo, capture_output=True, text=True)
    try:
        rows = json.loads(out.stdout)
        return rows[0]["name"]
    except (ValueError, LookupError, TypeError):
        return "metric00000"


def measure_versions(kind: str, n: int) -> dict[str, float]:
    repo = built(kind, n)
    name = "counter" if kind == "one-name" else first_name(repo)
    out: dict[str, float] = {}
    out["files under .artrepo"] = files_under(repo)
    out[f"artrepo show {name}"] = cli(repo, "show", name)
    out[f"artrepo show {name}:1"] = cli(repo, "show", f"{name}:1")
    out[f"artrepo log {name} -n 20"] = cli(repo, "log", name, "-n", "20")
    out["load_artifact(NAME), first in a process"] = statistics.median(
        in_process(repo, FIRST_LOAD.format(name=name)) for _ in range(3))
    out["load_artifact(NAME), in-process"] = in_process(repo, LOAD_COST.format(name=name))
    out["artrepo list"] = cli(repo, "list", repeat=3)
    out["artrepo fsck"] = cli(repo, "fsck", repeat=1)
    out["artrepo du"] = cli(repo, "du", repeat=1)
    out["artrepo gc --dry-run"] = cli(repo, "gc", "--dry-run", repeat=1)
    work = copy_of(repo, "write")
    out["save_artifact(int), in-process"] = in_process(work, SAVE_COST.format(name=name, n=40))
    fresh = base() / "work" / "fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    subprocess.run([PY, "-m", "artrepo", "init", str(fresh)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PY, "-c", f"import artrepo; artrepo.save_artifact(0, {name!r})"], cwd=fresh, check=True)
    out["fresh save"] = in_process(fresh, SAVE_COST.format(name=name, n=40))  # the name at N = 1..41
    shutil.rmtree(fresh, ignore_errors=True)
    remote = base() / "work" / f"{kind}-{n}-remote"
    shutil.rmtree(remote, ignore_errors=True)
    subprocess.run([PY, "-m", "artrepo", "remote", "add", "origin", str(remote)], cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    out["first push (folder)"] = cli(work, "push", repeat=1)
    out["no-op push (folder)"] = cli(work, "push", repeat=3)
    subprocess.run([PY, "-c", f"import artrepo; artrepo.save_artifact(1, {name!r})"], cwd=work, check=True)
    out["push after one save (folder)"] = cli(work, "push", repeat=1)
    clone = base() / "work" / f"{kind}-{n}-clone"
    shutil.rmtree(clone, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([PY, "-m", "artrepo", "clone", str(remote), str(clone)], check=True, stdout=subprocess.DEVNULL)
    out["clone (folder)"] = time.perf_counter() - t
    shutil.rmtree(clone, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(remote, ignore_errors=True)
    return out


def measure_runs(n: int) -> dict[str, float]:
    repo = built("runs", n)
    out: dict[str, float] = {}
    out["artrepo log -n 20 (runs)"] = cli(repo, "log", "-n", "20")
    work = copy_of(repo, "rerun")
    out["artrepo run hourly.py (fully cached)"] = cli(work, "run", "hourly.py", "-p", "i=0")
    shutil.rmtree(work, ignore_errors=True)
    out["files under .artrepo"] = files_under(repo)
    return out


WHOLE = ("artrepo list", "artrepo fsck", "artrepo du", "artrepo gc --dry-run", "clone (folder)", "first push (folder)",
         "artrepo ui: first start (builds its index) until / answers")


def table(title: str, small_n: int, large_n: int, small: dict, large: dict, command: str,
          versions_per_item: int = 1, paired: dict | None = None) -> None:
    """One row per figure; `paired`: {figure: median of paired ratios}, printed after the bound."""
    print(f"\n{title}: {large_n:,} vs {small_n:,}   (rerun: {command})")
    print(f"  {'figure':52} {'small':>10} {'large':>10} {'ratio':>7}  bound" + ("  (paired ratio)" if paired else ""))
    for key in small:
        a, b = small[key], large.get(key)
        if b is None:
            continue
        ratio = b / a if a else float("inf")
        if key == "fresh save":
            continue
        if key.startswith("files"):
            per = (b - a) / ((large_n - small_n) * versions_per_item / 50)
            print(f"  {key:52} {a:10.0f} {b:10.0f} {ratio:7.2f}  grows {per:.2f} per 50 versions (bound <= 1)")
            continue
        bound = f"linear (<= {large_n / small_n:.0f}x)" if key in WHOLE else "<= 1.5x"
        pair = f"  ({paired[key]:.2f})" if paired and key in paired else ""
        print(f"  {key:52} {a * 1000:8.1f}ms {b * 1000:8.1f}ms {ratio:7.2f}  {bound}{pair}")
    save = "save_artifact(int), in-process"
    if "fresh save" in small and save in large:
        print(f"  {'save_artifact(int) at N = 1 (a new repository)':52} {small['fresh save'] * 1000:8.1f}ms "
              f"{large[save] * 1000:8.1f}ms {large[save] / small['fresh save']:7.2f}  <= 1.5x (issue: against N = 1)")
    if "artrepo fsck" in large:
        print(f"  fsck rate at {large_n:,}: {large_n / large['artrepo fsck']:,.0f} versions/s (bound >= 20,000; "
              "includes process start and stock git fsck)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="100 vs 1,000")
    ap.add_argument("--kinds", default="one-name,many-names,runs")
    ap.add_argument("--dashboard-only", action="store_true", help="only `artrepo ui` and its pages")
    args = ap.parse_args()
    if args.quick:
        args.small, args.large = 100, 1000
    command = f"{PY} bench/bench_scale.py --small {args.small} --large {args.large} --kinds {args.kinds}" \
        + (" --dashboard-only" if args.dashboard_only else "")
    compile_sources()
    t = time.perf_counter()
    subprocess.run([PY, "-c", "import artrepo"], check=True)
    print(f"import artrepo: {1000 * (time.perf_counter() - t):.0f} ms (process start included)")
    for kind in args.kinds.split(","):
        sizes = (args.small // 10, args.large // 10) if kind == "runs" else (args.small, args.large)
        if not args.dashboard_only:
            if kind == "runs":
                small, large = measure_runs(sizes[0]), measure_runs(sizes[1])
            else:
                small, large = measure_versions(kind, sizes[0]), measure_versions(kind, sizes[1])
            table(kind, *sizes, small, large, command, versions_per_item=3 if kind == "runs" else 1)
        if kind in ("many-names", "runs"):
            small, large, paired = measure_dashboard(built(kind, sizes[0]), built(kind, sizes[1]))
            table(f"dashboard, {kind}", *sizes, small, large, command, paired=paired)
    return 0


if __name__ == "__main__":
    sys.exit(main())
