"""Small saves (issue 15): an in-process `save_artifact`, its flush share, saves at once, and grouped flushes.

    .venv/bin/python bench/bench_save.py                       # one name with 1,000 vs 100,000 versions
    .venv/bin/python bench/bench_save.py --large 10000 --saves 60
    .venv/bin/python bench/bench_save.py --quick               # 100 vs 1,000 versions, fewer saves
    .venv/bin/python bench/bench_save.py --only grouping       # the flush-grouping experiment alone
    .venv/bin/python bench/bench_save.py --against /work/main  # each size also with that tree's artrepo
                                                               # (sequential rounds alternating: --alternate)

Repositories are copies (`cp -a`) of bench_scale.py's cached builds of one
name with N versions ($BENCH_SCRATCH/scale/one-name-N, built once if
missing). Every value saved is new (no chunk is deduplicated away).

sequential: one process; per round, interleaved, the two baselines, an int
save and a save of a 1 KB float64 array. Baselines on the same filesystem:
`np.save` of the array to a new file + fsync, and a bare `syncfs` of the
repository's folder (the price of one flush with nothing of ours dirty).
Printed: median and mean ms per save, syncfs calls per save, the share of the
save's time spent in them and in the ref folder's fsync, and ratios.

at once: `--procs` processes each make `--saves` saves of a 1 KB array,
started together, each its own name and then all of one name, against one
process alone: per-save latency, throughput, syncfs issued per save.

grouping (the experiment behind not grouping flushes, docs/performance.md
"Scale"): 4 processes, then 4 threads, each publish 1 KB files (write a new
file, then flush) with one syncfs each (what artrepo does) or a flush
shared in user space (group commit: a caller that arrived while a sync ran
waits for the next one, which one of them issues for all; across processes
through a flock'd counter file). Alternating rounds; median publishes/s.
"""
from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_scale import built, copy_of  # noqa: E402
from common import compile_sources  # noqa: E402

PY = sys.executable

# In a child: count and time every syncfs and ref-folder fsync a save pays, then run the body.
PRELUDE = """
import ctypes, json, os, statistics, sys, time
import numpy as np
import artrepo, artrepo.atomic as atomic, artrepo.gitdb.refs as refs
syncs, folder_syncs = [], []  # seconds in each syncfs(2); in each fsync of a ref folder
_real = atomic._syncfs
def _counted(fd):
    t = time.perf_counter(); _real(fd); syncs.append(time.perf_counter() - t)
atomic._syncfs = _counted
_real_dir = refs.fsync_dir
def _dir(folder):
    t = time.perf_counter(); _real_dir(folder); folder_syncs.append(time.perf_counter() - t)
refs.fsync_dir = _dir
rng = np.random.default_rng(int.from_bytes(os.urandom(8), "little"))
artrepo.load_artifact("counter")
"""

SEQUENTIAL = PRELUDE + """
libc = ctypes.CDLL(None, use_errno=True)
artrepo.save_artifact(int(rng.integers(1 << 62)), "counter")  # untimed: a process's first saves import and
artrepo.save_artifact(rng.random(128), "counter")  # open what later ones reuse (10-20 ms)
syncs.clear(); folder_syncs.clear()
folder = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
rows = {"np.save+fsync": [], "bare syncfs": [], "int": [], "1 KB array": []}
spent = {"int": [0, 0.0, 0.0], "1 KB array": [0, 0.0, 0.0]}  # syncfs calls, seconds in them, in folder fsyncs
for i in range(N):
    arr = rng.random(128)
    t = time.perf_counter()
    with open(f"baseline-{i}.npy", "wb") as f:
        np.save(f, arr); f.flush(); os.fsync(f.fileno())
    rows["np.save+fsync"].append(time.perf_counter() - t)
    t = time.perf_counter(); libc.syncfs(folder); rows["bare syncfs"].append(time.perf_counter() - t)
    for key, value in (("int", int(rng.integers(1 << 62))), ("1 KB array", rng.random(128))):
        before = len(syncs), len(folder_syncs)
        t = time.perf_counter(); artrepo.save_artifact(value, "counter"); rows[key].append(time.perf_counter() - t)
        spent[key][0] += len(syncs) - before[0]
        spent[key][1] += sum(syncs[before[0]:]); spent[key][2] += sum(folder_syncs[before[1]:])
for i in range(N):
    os.unlink(f"baseline-{i}.npy")
print(json.dumps({"rows": rows, "spent": spent}))
"""

SAVER = PRELUDE + """
while not os.path.exists("go"):
    time.sleep(0.0005)
start = time.monotonic()
lat = []
for i in range(N):
    arr = rng.random(128)
    t = time.perf_counter(); artrepo.save_artifact(arr, NAME); lat.append(time.perf_counter() - t)
print(json.dumps({"start": start, "end": time.monotonic(), "lat": lat, "syncs": len(syncs)}))
"""


def env_for(code_root: str | None) -> dict:
    return {**os.environ, "PYTHONPATH": code_root or str(BENCH.parent)}


def child(code: str, repo: Path, code_root: str | None, **consts) -> dict:
    prefix = "".join(f"{k} = {v!r}\n" for k, v in consts.items())
    out = subprocess.run([PY, "-c", prefix + code], cwd=repo, capture_output=True, text=True, env=env_for(code_root))
    if out.returncode:
        raise SystemExit(f"in {repo}: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def sequential(repos: dict, saves: int, parts: int) -> dict:
    """{code: what SEQUENTIAL measured}, each code's `saves` rounds run in `parts` children,
    alternating codes (in turn first), so that a change of the machine's load falls on every code."""
    got: dict = {}
    for part in range(parts):
        order = list(repos.items()) if part % 2 == 0 else list(repos.items())[::-1]
        for code_root, repo in order:
            n = saves // parts + (part < saves % parts)
            one = child(SEQUENTIAL, repo, code_root, N=n)
            if code_root not in got:
                got[code_root] = one
                continue
            for key, values in one["rows"].items():
                got[code_root]["rows"][key] += values
            for key, counts in one["spent"].items():
                got[code_root]["spent"][key] = [a + b for a, b in zip(got[code_root]["spent"][key], counts)]
    return got


def print_sequential(got: dict, saves: int, parts: int) -> None:
    rows = got["rows"]
    base = {key: statistics.median(rows[key]) for key in ("np.save+fsync", "bare syncfs")}
    print(f"  sequential, {saves} rounds" + (f" in {parts} processes alternating with the other code" if parts > 1 else ""))
    for key in base:
        print(f"    {key:22} median {ms(base[key]):>7} ms  mean {ms(statistics.mean(rows[key])):>7} ms")
    for key in ("int", "1 KB array"):
        med, total = statistics.median(rows[key]), sum(rows[key])
        calls, in_sync, in_dirs = got["spent"][key]
        print(f"    save {key:17} median {ms(med):>7} ms  mean {ms(total / saves):>7} ms  syncfs {calls / saves:.2f}/save "
              f"{in_sync / total:.0%} of the time, ref folder fsync {in_dirs / total:.0%}  = "
              f"{med / base['np.save+fsync']:.2f}x np.save+fsync, {med / base['bare syncfs']:.2f}x a bare syncfs")


def at_once(repo: Path, procs: int, saves: int, same_name: bool, code_root: str | None) -> dict:
    go = repo / "go"
    go.unlink(missing_ok=True)
    children = []
    for w in range(procs):
        consts = f"N = {saves}\nNAME = {'counter' if same_name else f'saver{w}'!r}\n"
        children.append(subprocess.Popen([PY, "-c", consts + SAVER], cwd=repo, env=env_for(code_root),
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    time.sleep(1.5)  # every child imported and loaded
    go.touch()
    results = []
    for p in children:
        stdout, stderr = p.communicate(timeout=900)
        if p.returncode:
            raise SystemExit(f"saver failed: {stderr.strip()[-2000:]}")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    go.unlink()
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    lat = sorted(x for r in results for x in r["lat"])
    total = procs * saves
    return {"median": statistics.median(lat), "p90": lat[int(0.9 * len(lat))], "per_s": total / wall,
            "syncs": sum(r["syncs"] for r in results) / total}


def print_at_once(label: str, row: dict, alone: dict | None) -> None:
    ratio = f" = {row['per_s'] / alone['per_s']:.2f}x one process" if alone else ""
    print(f"    {label:28} latency median {ms(row['median']):>6} ms p90 {ms(row['p90']):>6} ms  "
          f"{row['per_s']:6.1f} saves/s{ratio}  syncfs {row['syncs']:.2f}/save")


# -- the grouping experiment ------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_COUNTS = struct.Struct("<QQ")  # syncs started, last sync completed


def _syncfs(fd: int) -> None:
    if _libc.syncfs(fd) != 0:
        raise OSError(ctypes.get_errno(), "syncfs")


class ThreadGroup:
    """Group commit among threads: one sync at a time; a caller returns once a sync that started
    after its call has completed (N callers at once cost about two syncs)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = self.completed = 0

    def flush(self, fd: int) -> bool:
        ticket = self.started + 1  # any sync numbered from here on starts after our writes
        with self.lock:
            if self.completed >= ticket:
                return False
            self.started += 1
            number = self.started
            _syncfs(fd)
            self.completed = number
            return True


def shared_flush(fd: int, base: str) -> bool:
    """The same across processes: the counters in `base`.count (flock'd briefly), `base` flock'd while syncing."""
    counts = os.open(f"{base}.count", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(counts, fcntl.LOCK_SH)
        ticket = _read_counts(counts)[0] + 1
        fcntl.flock(counts, fcntl.LOCK_UN)
        syncer = os.open(base, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(syncer, fcntl.LOCK_EX)
            fcntl.flock(counts, fcntl.LOCK_EX)
            started, completed = _read_counts(counts)
            if completed >= ticket:
                return False
            os.pwrite(counts, _COUNTS.pack(started + 1, completed), 0)
            fcntl.flock(counts, fcntl.LOCK_UN)
            _syncfs(fd)
            fcntl.flock(counts, fcntl.LOCK_EX)
            now_started, completed = _read_counts(counts)
            os.pwrite(counts, _COUNTS.pack(max(now_started, started + 1), max(completed, started + 1)), 0)
            return True
        finally:
            os.close(syncer)
    finally:
        os.close(counts)


def _read_counts(fd: int) -> tuple[int, int]:
    data = os.pread(fd, _COUNTS.size, 0)
    return _COUNTS.unpack(data) if len(data) == _COUNTS.size else (0, 0)


def publish_files(folder: Path, tag: str, n: int, flush) -> tuple[list[float], int]:
    """`n` times: a new 1 KB file, then `flush(fd)`; per-publish seconds and syncs issued."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    lat, syncs = [], 0
    try:
        for i in range(n):
            t = time.perf_counter()
            f = os.open(folder / f"{tag}-{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(f, os.urandom(1024))
            os.close(f)
            syncs += flush(fd) is not False
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
    return lat, syncs


PUBLISHER = """
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, BENCH)
import bench_save as b
folder = Path(FOLDER)
flush = (lambda fd: b.shared_flush(fd, str(folder / "group"))) if GROUPED else b._syncfs
while not (folder / "go").exists():
    time.sleep(0.0005)
start = time.monotonic()
lat, syncs = b.publish_files(folder, f"p{W}", N, flush)
print(json.dumps({"start": start, "end": time.monotonic(), "lat": lat, "syncs": syncs}))
"""


def grouping_round(folder: Path, workers: int, n: int, grouped: bool, threads: bool) -> tuple[float, float, float]:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if threads:
        group, results = ThreadGroup(), []
        flush = group.flush if grouped else _syncfs
        pool = [threading.Thread(target=lambda w=w: results.append(publish_files(folder, f"t{w}", n, flush)))
                for w in range(workers)]
        t = time.perf_counter()
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        wall = time.perf_counter() - t
    else:
        procs = [subprocess.Popen([PY, "-c", f"BENCH, FOLDER, W, N, GROUPED = {str(BENCH)!r}, {str(folder)!r}, {w}, "
                                   f"{n}, {grouped}\n" + PUBLISHER], stdout=subprocess.PIPE, text=True)
                 for w in range(workers)]
        time.sleep(0.5)
        (folder / "go").touch()
        out = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
        wall = max(o["end"] for o in out) - min(o["start"] for o in out)
        results = [(o["lat"], o["syncs"]) for o in out]
    lat = [x for r in results for x in r[0]]
    return workers * n / wall, statistics.median(lat), sum(r[1] for r in results) / (workers * n)


def grouping(rounds: int, n: int) -> None:
    folder = Path(os.environ.get("BENCH_SCRATCH", "/tmp/artrepo-bench")) / "flush-grouping"
    print(f"\ngrouping: 4 workers x {n} publishes (1 KB file + flush), {rounds} alternating rounds, median")
    for threads in (False, True):
        got = {False: [], True: []}
        for r in range(rounds):
            for grouped in ((False, True) if r % 2 == 0 else (True, False)):
                got[grouped].append(grouping_round(folder, 4, n, grouped, threads))
        for grouped, rows in got.items():
            rate = statistics.median(x[0] for x in rows)
            print(f"    4 {'threads' if threads else 'processes'}, {'grouped flush' if grouped else 'one syncfs each'}: "
                  f"{rate:5.0f} publishes/s ({', '.join(f'{x[0]:.0f}' for x in rows)}), latency median "
                  f"{ms(statistics.median(x[1] for x in rows))} ms, syncfs {statistics.median(x[2] for x in rows):.2f}"
                  "/publish")
    shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=100_000)
    ap.add_argument("--saves", type=int, default=40, help="saves per measurement (per process when at once)")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=6, help="alternating rounds of the grouping experiment")
    ap.add_argument("--only", choices=("saves", "grouping"))
    ap.add_argument("--quick", action="store_true", help="100 vs 1,000 versions, 20 saves, 2 rounds")
    ap.add_argument("--against", help="also measure each size with the artrepo of this source tree")
    ap.add_argument("--alternate", type=int, default=4,
                    help="with --against: the sequential rounds in this many processes per code, codes alternating")
    args = ap.parse_args()
    if args.quick:
        args.small, args.large, args.saves, args.rounds = 100, 1000, 20, 2
    print(f"rerun: {' '.join([Path(PY).name, *sys.argv])}   (load average {os.getloadavg()[0]:.2f})")
    if args.only != "grouping":
        codes = {"this": None, **({"against": args.against} if args.against else {})}
        for code_root in codes.values():
            compile_sources(code_root or BENCH.parent)
        parts = max(1, args.alternate) if args.against else 1
        for n in (args.small, args.large):
            source = built("one-name", n)
            repos = {code_root: copy_of(source, f"save-{tag}") for tag, code_root in codes.items()}
            os.sync()  # the copies' writeback is not the saves' to pay
            try:
                measured = sequential(repos, args.saves, parts)
                for code_root, repo in repos.items():
                    print(f"\none name, {n:,} versions, code: {code_root or BENCH.parent}")
                    print_sequential(measured[code_root], args.saves, parts)
                    print(f"  at once: {args.saves} saves of a 1 KB array per process")
                    alone = at_once(repo, 1, args.saves, False, code_root)
                    print_at_once("1 process alone", alone, None)
                    print_at_once(f"{args.procs} processes, own names",
                                  at_once(repo, args.procs, args.saves, False, code_root), alone)
                    print_at_once(f"{args.procs} processes, one name",
                                  at_once(repo, args.procs, args.saves, True, code_root), alone)
            finally:
                for repo in repos.values():
                    shutil.rmtree(repo, ignore_errors=True)
    if args.only != "saves":
        grouping(args.rounds, 50 if args.quick else 100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
