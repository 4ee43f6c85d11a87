"""Remote transfer benchmark against one moto_server, with plain s3fs as the baseline.

    .venv/bin/python bench/bench_remote.py [--size-mib 256 | --gib] [--small 10000]

Figures (issue 4): push of a new artifact vs `s3fs.put` of the same bytes (and its requests);
pull vs `s3fs.get`; bytes sent by the push after a 1 MiB change in the
middle; requests of a no-op push; requests per 100 small artifacts on their
first push and the time of the no-op push that follows. Requests are counted
per HTTP attempt with a botocore `before-send` hook. Setting up the small
artifacts runs with fsync off (it measures saving, not pushing).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "moto_server"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    proc = subprocess.Popen(cmd + ["-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not start")


def counted(url: str, endpoint: str):
    from artrepo.storage.backend import open_backend

    backend = open_backend(url, endpoint)
    backend.fs.connect()
    sent: list[str] = []
    backend.fs.s3.meta.events.register("before-send.s3", lambda request, **kw: sent.append(request.method))
    return backend, sent


@contextlib.contextmanager
def no_fsync():
    import pygit2

    real = os.fsync
    os.fsync = lambda fd: None
    pygit2.settings.enable_fsync_gitdir(False)
    try:
        yield
    finally:
        os.fsync = real
        pygit2.settings.enable_fsync_gitdir(True)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_large(work: Path, endpoint: str, bucket: str, size: int) -> None:
    import numpy as np

    from artrepo.values import save_value
    from artrepo.remotes.config import add_remote, get_remote
    from artrepo.remotes.pull import pull
    from artrepo.remotes.push import push
    from artrepo.storage.backends.s3 import s3_filesystem
    from artrepo.repository import Repository

    data = np.random.default_rng(0).integers(0, 2**63, size // 8, dtype=np.int64)
    raw = work / "data.npy"
    np.save(raw, data)
    fs = s3_filesystem(endpoint)
    t_put, _ = timed(lambda: fs.put(str(raw), f"{bucket}/baseline/data.npy"))
    t_get, _ = timed(lambda: fs.get(f"{bucket}/baseline/data.npy", str(work / "back.npy")))
    repo = Repository.init(work / "a")
    url = f"s3://{bucket}/repo"
    add_remote(repo, "origin", url, endpoint)
    save_value(repo, data, "big")
    backend, sent = counted(url, endpoint)
    t_push, first = timed(lambda: push(repo, get_remote(repo, "origin"), backend=backend))
    other = Repository.init(work / "b")
    add_remote(other, "origin", url, endpoint)
    t_pull, pulled = timed(lambda: pull(other, get_remote(other, "origin")))
    mib = size / 2**20
    print(f"push {mib:.0f} MiB: {t_push:.2f} s ({mib / t_push:.0f} MiB/s); s3fs put {t_put:.2f} s "
          f"({mib / t_put:.0f} MiB/s); ratio {t_put / t_push:.2f}x; sent {first.bytes_sent / 2**20:.1f} MiB in "
          f"{first.packs} packs, {len(sent)} requests ({sent.count('HEAD')} HEAD)")
    print(f"pull {mib:.0f} MiB: {t_pull:.2f} s ({mib / t_pull:.0f} MiB/s); s3fs get {t_get:.2f} s "
          f"({mib / t_get:.0f} MiB/s); ratio {t_get / t_pull:.2f}x; received {pulled.bytes_sent / 2**20:.1f} MiB")
    changed = data.copy()
    mid = len(changed) // 2
    changed[mid:mid + (1 << 20) // 8] = np.random.default_rng(1).integers(0, 2**63, (1 << 20) // 8)
    save_value(repo, changed, "big")
    second = push(repo, get_remote(repo, "origin"))
    print(f"push after a 1 MiB change in the middle: sent {second.bytes_sent / 2**20:.2f} MiB = "
          f"{100 * second.bytes_sent / size:.2f}% of {mib:.0f} MiB")
    backend, sent = counted(url, endpoint)
    t_noop, res = timed(lambda: push(repo, get_remote(repo, "origin"), backend=backend))
    assert res.up_to_date
    print(f"no-op push: {len(sent)} request(s) ({', '.join(sent)}), {t_noop * 1000:.0f} ms")


def bench_small(work: Path, endpoint: str, bucket: str, count: int) -> None:
    from artrepo.values import save_value
    from artrepo.remotes.config import add_remote, get_remote
    from artrepo.remotes.push import push
    from artrepo.repository import Repository

    repo = Repository.init(work / "small")
    url = f"s3://{bucket}/small"
    add_remote(repo, "origin", url, endpoint)
    with no_fsync():
        t_save, _ = timed(lambda: [save_value(repo, {"i": i, "note": "x" * 100}, f"metric{i % 100}")
                                   for i in range(count)])
    backend, sent = counted(url, endpoint)
    t_push, res = timed(lambda: push(repo, get_remote(repo, "origin"), backend=backend))
    n_first = len(sent)
    sent.clear()
    t_noop, noop = timed(lambda: push(repo, get_remote(repo, "origin"), backend=backend))
    assert noop.up_to_date and res.versions == count
    print(f"{count} small artifacts (saved in {t_save:.0f} s, fsync off): first push {t_push:.2f} s, "
          f"{n_first} requests = {100 * n_first / count:.3f} per 100 artifacts; "
          f"no-op push {t_noop * 1000:.0f} ms, {len(sent)} request(s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--gib", action="store_true", help="use a 1 GiB artifact")
    ap.add_argument("--small", type=int, default=10_000, help="number of small artifacts (0: skip)")
    ap.add_argument("--quick", action="store_true", help="32 MiB and 500 small artifacts")
    args = ap.parse_args()
    if args.quick:
        args.size_mib, args.gib, args.small = 32, False, min(args.small, 500)
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(k, v)
    proc, endpoint = start_moto()
    try:
        from artrepo.storage.backends.s3 import s3_filesystem

        s3_filesystem(endpoint).mkdir("bench")
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            size = (1 << 30) if args.gib else args.size_mib << 20
            bench_large(Path(tmp), endpoint, "bench", size)
            if args.small:
                bench_small(Path(tmp), endpoint, "bench", args.small)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


if __name__ == "__main__":
    main()
