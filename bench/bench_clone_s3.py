"""Clone of 10,000 small versions from S3 (moto_server): its requests, and its time against s3fs.

    .venv/bin/python bench/bench_clone_s3.py                   # 10,000 versions over 1,000 names
    .venv/bin/python bench/bench_clone_s3.py --quick           # 1,000 versions
    .venv/bin/python bench/bench_clone_s3.py --source /tmp/scale-bench/scale/many-names-10000

The repository is bench_scale.py's cached `many-names` build (or --source:
any repository, never written to: a copy is pushed). The copy is pushed to a
moto_server started here (127.0.0.1, a free port, stopped by its PID), the
remote consolidated (`artrepo gc --remote origin`), then cloned, REPEAT
times, alternating with the baseline: s3fs downloading every object under
the remote's prefix (`S3FileSystem.get(prefix, folder, recursive=True)`, a
fresh filesystem each time). Requests are counted per HTTP attempt with a
botocore `before-send` hook on every S3 backend the clone opens; the
in-process clones' time is split by phase (the pull's steps, timed by
wrappers). Issue 15's bounds: <= 20 requests, <= 2x the s3fs download.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_remote import start_moto  # noqa: E402
from common import Table, folder_bytes, save_results, scratch  # noqa: E402

REPEAT = 3
PY = sys.executable
MAX_REQUESTS = 20
MAX_RATIO = 2.0


@contextlib.contextmanager
def every_request():
    """(method, first folder under the remote's prefix) of each HTTP attempt of every S3 backend opened."""
    from artrepo.storage.backends.s3 import S3Backend

    sent: list[tuple[str, str]] = []
    real = S3Backend.__init__

    def counting(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self.fs.connect()
        depth = len([p for p in self.prefix.split("/") if p]) + 2

        def note(request, **_kw):
            parts = urlsplit(request.url).path.split("/")
            sent.append((request.method, parts[depth] if len(parts) > depth else ""))

        self.fs.s3.meta.events.register("before-send.s3", note)

    S3Backend.__init__ = counting
    try:
        yield sent
    finally:
        S3Backend.__init__ = real


PHASES = [  # (module, owner or "", function): the steps of a clone, timed apart
    ("artrepo.remotes.state", "", "read_state"),  # S3 client, GET the ref table (and its base), decode
    ("artrepo.repository.core", "Repository", "init"),
    ("artrepo.remotes.config", "", "add_remote"),
    ("artrepo.remotes.session", "RemoteSession", "fetch_git"),
    ("artrepo.remotes.gitpacks", "", "scan_pack"),  # inside fetch_git (INNER), beside git index-pack
    ("artrepo.remotes.pull", "", "read_ahead"),  # inside fetch_git too
    ("artrepo.remotes.session", "RemoteSession", "check_reachable"),
    ("artrepo.remotes.pull", "", "check_refs"),
    ("artrepo.remotes.pull", "", "_fetch_data"),
    ("artrepo.remotes.session", "RemoteSession", "store"),  # inside _fetch_data: GET the index file, decode
    ("artrepo.remotes.verify", "", "transfer"),  # inside _fetch_data: GET the data pack, verify, write
    ("artrepo.remotes.pull", "", "_adopt_versions"),
    ("artrepo.repository.core", "Repository", "set_labels_many"),  # inside _adopt_versions: 10,000 refs
    ("artrepo.repository.core", "Repository", "update_heads"),  # inside _adopt_versions: 1,000 heads
    ("artrepo.remotes.pull", "", "_adopt_other_refs"),
    ("artrepo.remotes.pull", "", "_adopt_runs"),
]
INNER = {"scan_pack", "read_ahead", "store", "transfer", "set_labels_many", "update_heads"}


@contextlib.contextmanager
def phase_timers():
    """{phase: [seconds per clone]} of the clones run in the block (PHASES wrapped meanwhile)."""
    import importlib

    spent: dict[str, float] = {}
    runs: dict[str, list[float]] = {}
    undo = []
    for module, owner, name in PHASES:
        where = importlib.import_module(module)
        target = getattr(where, owner) if owner else where
        real = getattr(target, name, None)
        if real is None:  # an older artrepo (bench run against another checkout)
            continue

        def timed(*args, _real=real, _name=name, **kwargs):
            t = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - t

        undo.append((target, name, vars(target).get(name)))  # what to put back (None: inherited, so delete)
        setattr(target, name, timed)

    def lap() -> None:
        for key, value in spent.items():
            runs.setdefault(key, []).append(value)
        spent.clear()

    try:
        yield runs, lap
    finally:
        for target, name, own in undo:
            if own is None:
                delattr(target, name)
            else:
                setattr(target, name, own)


def artrepo_cli(*args: str, cwd: Path) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run([PY, "-m", "artrepo", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"artrepo {' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return time.perf_counter() - t, proc.stdout.strip()


def source_repository(args) -> Path:
    if args.source:
        return Path(args.source)
    from bench_scale import built

    return built("many-names", args.versions)


def s3fs_download(endpoint: str, prefix: str, dest: Path) -> float:
    from artrepo.storage.backends.s3 import s3_filesystem

    shutil.rmtree(dest, ignore_errors=True)
    fs = s3_filesystem(endpoint)  # a new filesystem: no listing or connection kept from the last round
    gc.collect()  # neither side pays for the other's garbage (a clone's objects outlive it in this process)
    t = time.perf_counter()
    fs.get(f"{prefix}/", f"{dest}/", recursive=True)
    return time.perf_counter() - t


def index_packs(download: Path, scratch_git: Path) -> float:
    """Seconds `git index-pack --strict --stdin` takes over the downloaded git packs, into a new bare repository.

    The floor a clone cannot go under while it checks every object with stock
    git (as artrepo/gitdb/packs.py does); the bare repository is made first, untimed.
    """
    shutil.rmtree(scratch_git, ignore_errors=True)
    subprocess.run(["git", "init", "-q", "--bare", str(scratch_git)], check=True)
    packs = sorted((download / "git").glob("*.pack"))
    if not packs:
        raise SystemExit(f"no git pack under {download / 'git'}")
    t = time.perf_counter()
    for pack in packs:
        with open(pack, "rb") as file:
            subprocess.run(["git", "index-pack", "--stdin", "--strict"], cwd=scratch_git, stdin=file,
                           stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def in_process_clone(url: str, endpoint: str, dest: Path, sent: list, lap=None) -> float:
    from artrepo.remotes.pull import clone

    shutil.rmtree(dest, ignore_errors=True)
    sent.clear()
    gc.collect()
    t = time.perf_counter()
    _target, result = clone(url, dest, endpoint)
    elapsed = time.perf_counter() - t
    if result.versions == 0:
        raise SystemExit("the clone received no versions")
    if lap is not None:
        lap()
    return elapsed


def measure(src: Path, work: Path, endpoint: str) -> Table:
    from artrepo.storage.backends.s3 import s3_filesystem

    s3_filesystem(endpoint).mkdir("bench")
    url, prefix = "s3://bench/clone", "bench/clone"
    repo = work / "source"
    subprocess.run(["cp", "-a", str(src), str(repo)], check=True)
    artrepo_cli("remote", "add", "origin", url, "--endpoint-url", endpoint, cwd=repo)
    t_push, said = artrepo_cli("push", cwd=repo)
    print(f"push: {t_push:.1f} s ({said})", flush=True)
    t_gc, said = artrepo_cli("gc", "--remote", "origin", "--grace", "0", cwd=repo)
    print(f"gc --remote: {t_gc:.1f} s ({' '.join(said.split())})", flush=True)

    s3fs_times, floor_times, clone_times, cli_times = [], [], [], []
    with every_request() as sent, phase_timers() as (phases, lap):
        for _ in range(REPEAT):
            s3fs_times.append(s3fs_download(endpoint, prefix, work / "s3fs"))
            floor_times.append(s3fs_times[-1] + index_packs(work / "s3fs", work / "floor.git"))
            clone_times.append(in_process_clone(url, endpoint, work / "clone", sent, lap))
            shutil.rmtree(work / "clone-cli", ignore_errors=True)
            cli_times.append(artrepo_cli("clone", url, str(work / "clone-cli"), "--endpoint-url", endpoint,
                                         cwd=work)[0])
        kinds = Counter(sent)
    objects = sum(len(files) for _d, _s, files in os.walk(work / "s3fs"))
    size = folder_bytes(work / "s3fs")
    s3fs, floor, clone, cli = (statistics.median(x) for x in (s3fs_times, floor_times, clone_times, cli_times))
    print(f"s3fs: {objects} objects, {size / 2**20:.1f} MiB in {s3fs * 1000:.0f} ms "
          f"(runs {', '.join(f'{x * 1000:.0f}' for x in s3fs_times)} ms)")
    print(f"clone in process: runs {', '.join(f'{x:.2f}' for x in clone_times)} s; "
          f"artrepo clone: runs {', '.join(f'{x:.2f}' for x in cli_times)} s")
    split = {name: statistics.median(times) for name, times in phases.items()}
    split["rest"] = clone - sum(v for k, v in split.items() if k not in INNER)
    print("in-process clone by phase (medians): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in split.items()))
    table = Table("clone of many small versions from S3 (moto_server)")
    detail = ", ".join(f"{m} {k or 'bucket'} x{n}" for (m, k), n in sorted(kinds.items()))
    table.add("requests of a clone", f"<= {MAX_REQUESTS}", f"{len(sent)} ({detail})", len(sent) <= MAX_REQUESTS,
              requests=len(sent))
    table.add("clone (in process) / s3fs download", f"<= {MAX_RATIO}x",
              f"{clone / s3fs:.1f}x ({clone:.2f} s vs {s3fs * 1000:.0f} ms)", clone / s3fs <= MAX_RATIO,
              clone_s=clone, s3fs_s=s3fs, phases_s=split)
    table.add("`artrepo clone` (fresh process) / s3fs download", f"<= {MAX_RATIO}x",
              f"{cli / s3fs:.1f}x ({cli:.2f} s)", cli / s3fs <= MAX_RATIO, cli_s=cli)
    table.add("reference: s3fs download + git index-pack --strict of its git pack", "reference",
              f"{floor * 1000:.0f} ms; clone {clone / floor:.1f}x, artrepo clone {cli / floor:.1f}x", None,
              floor_s=floor)
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", type=int, default=10_000, help="size of bench_scale's many-names build")
    ap.add_argument("--source", help="clone this repository instead (copied first, never written to)")
    ap.add_argument("--quick", action="store_true", help="1,000 versions")
    args = ap.parse_args()
    if args.quick and not args.source:
        args.versions = 1_000
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    src = source_repository(args)
    work = scratch("clone-s3")
    proc, endpoint = start_moto()
    try:
        print(f"source: {src}; moto_server at {endpoint} (pid {proc.pid})", flush=True)
        table = measure(src, work, endpoint)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(table.render())
    command = " ".join(["bench/bench_clone_s3.py", *sys.argv[1:]])
    print(f"\nresults: {save_results('bench_clone_s3', [table], {'source': str(src), 'command': command})}")


if __name__ == "__main__":
    main()
