"""The durability order of saves running at once (docs/format.md §10): a version ref is renamed into
place only after a filesystem sync that STARTED after every file the save published before it (packs,
index file, git objects) and has completed, however many processes and threads save at once.

The savers log, with CLOCK_MONOTONIC (one clock for every process of the machine), each file they
publish (rename or link), each syncfs issued (start, end), each `sync_filesystem` call (start,
return) and each version ref renamed into place; the rule is checked on the log. A sync shared by
concurrent savers (group commit) would have to pass the same check: one that lets a save ride on a
sync already running when it arrived, or a sync moved before the writes it must cover, fails it.
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from helpers import assert_repository_sound, python_child, version_ids

SAVER = """
import json, os, threading, time
import numpy as np
import artrepo, artrepo.atomic as atomic, artrepo.gitdb.refs as refs, artrepo.storage.chunkstore as chunkstore
events, lock = [], threading.Lock()
def log(*event):
    with lock:
        events.append([os.getpid(), threading.get_ident(), *event])
real_syncfs, real_replace, real_link = atomic._syncfs, os.replace, os.link
def syncfs(fd):
    start = time.monotonic_ns(); real_syncfs(fd); log("sync", start, time.monotonic_ns())
def published(real):
    def publish(src, dst, *args, **kwargs):
        real(src, dst, *args, **kwargs)
        path = os.fspath(dst)
        kind = "ref" if "/refs/artrepo/v/" in path else "other-ref" if "/refs/" in path or "packed-refs" in path else "file"
        log(kind, time.monotonic_ns(), path)
    return publish
def timed(flush):
    def call(*args, **kwargs):
        start = time.monotonic_ns(); flush(*args, **kwargs); log("call", start, time.monotonic_ns())
    return call
atomic._syncfs, os.replace, os.link = syncfs, published(real_replace), published(real_link)
refs.sync_filesystem = timed(refs.sync_filesystem)
chunkstore.sync_filesystem = timed(chunkstore.sync_filesystem)
artrepo.save_artifact(0, "warm-up")  # the repository opened before the threads start
def saver(t):
    for i in range(SAVES):
        artrepo.save_artifact(np.full(128, (W * 100 + t) * 1000 + i, dtype=np.float64), f"saver{W}-{t}")
while not os.path.exists("go"):
    time.sleep(0.001)
threads = [threading.Thread(target=saver, args=(t,)) for t in range(THREADS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with open(f"flush-log-{W}.json", "w") as f:
    json.dump(events, f)
"""


def _save_at_once(project, processes: int, threads: int, saves: int) -> list:
    procs = [python_child(f"W, THREADS, SAVES = {w}, {threads}, {saves}\n" + SAVER, project,
                          stderr=subprocess.PIPE, text=True) for w in range(processes)]
    time.sleep(0.5)
    (project / "go").touch()
    for p in procs:
        assert p.wait(600) == 0, p.stderr.read()
    for w in range(processes):
        for t in range(threads):
            labels = version_ids(project, f"saver{w}-{t}")
            assert sorted(labels, key=int) == [str(i) for i in range(1, saves + 1)]
    return [e for w in range(processes) for e in json.loads((project / f"flush-log-{w}.json").read_text())]


def durability_order_broken(events: list) -> list[str]:
    """Every way the log breaks the rule, in words (empty: it holds)."""
    syncs = [(e[3], e[4]) for e in events if e[2] == "sync"]
    broken = []
    for pid, tid, kind, start, end in (e for e in events if e[2] == "call"):
        if not any(start < s and e <= end for s, e in syncs):
            broken.append(f"sync_filesystem call of {pid}/{tid} at {start} returned with no sync started after it")
    by_saver: dict[tuple, list] = {}
    for e in events:
        if e[2] in ("file", "ref"):
            by_saver.setdefault((e[0], e[1]), []).append(e)
    for saver, published in by_saver.items():
        files = []
        for _pid, _tid, kind, at, path in sorted(published, key=lambda e: e[3]):
            if kind == "file":
                files.append((at, path))
                continue
            for written, what in files:  # every file this saver published before the ref: durable first
                if not any(written < s and e <= at for s, e in syncs):
                    broken.append(f"{path} renamed into place with {what} not yet synced")
    return broken


def test_logged_order_is_checked():
    """The checker itself: a ref renamed while its files' only sync started before them is refused."""
    pid, tid = 1, 2
    good = [[pid, tid, "file", 10, "pack"], [pid, tid, "sync", 11, 20], [pid, tid, "call", 10, 21],
            [pid, tid, "ref", 22, "refs/artrepo/v/x/1"]]
    assert durability_order_broken(good) == []
    early = [[pid, tid, "sync", 9, 20], [pid, tid, "file", 10, "pack"], [pid, tid, "call", 10, 21],
             [pid, tid, "ref", 22, "refs/artrepo/v/x/1"]]  # a sync already running when the file came
    assert len(durability_order_broken(early)) == 2


def test_four_processes_saving_at_once_sync_each_save_after_its_writes(project):
    events = _save_at_once(project, processes=4, threads=1, saves=12)
    assert sum(e[2] == "ref" for e in events) == 4 * 13  # 12 saves and the warm-up each
    assert durability_order_broken(events) == []
    assert_repository_sound(project)


@pytest.mark.parametrize("threads", [4])
def test_threads_of_one_process_saving_at_once_sync_each_save_after_its_writes(project, threads):
    events = _save_at_once(project, processes=1, threads=threads, saves=12)
    assert sum(e[2] == "ref" for e in events) == threads * 12 + 1
    assert durability_order_broken(events) == []
    assert_repository_sound(project)


class _FailingLibc:
    """libc whose syncfs reports EIO: the disk could not write back what was written before."""

    def syncfs(self, fd):
        import ctypes
        import errno

        ctypes.set_errno(errno.EIO)
        return -1


@pytest.mark.parametrize("value", ["new", "already stored"])
def test_a_save_whose_sync_reports_an_io_error_fails_and_publishes_nothing(project, monkeypatch, value):
    """Stored before in the repository or not (then the packs' sync fails first, else the ref
    transaction's), the save raises and no version names data the disk may have lost."""
    import numpy as np

    from artrepo import atomic, load_artifact, save_artifact

    first = np.arange(128.0)
    save_artifact(first, "model")
    monkeypatch.setattr(atomic, "_libc", _FailingLibc())
    with pytest.raises(OSError, match="could not make the writes durable"):
        save_artifact(first if value == "already stored" else first + 1, "model")
    assert list(version_ids(project, "model")) == ["1"]
    assert not list((project / ".artrepo" / "refs").rglob("*.lock"))
    monkeypatch.setattr(atomic, "_libc", None)  # the real one again
    assert (load_artifact("model") == first).all()
    save_artifact(first + 2, "model")
    assert sorted(version_ids(project, "model")) == ["1", "2"]
    assert_repository_sound(project)
