"""The per-name lock and the label counters it keeps (docs/format.md §8, "Auto-increment").

Names are locked through a fixed set of stripe files, `locks/name-<xx>`
(`layout.name_lock`): no file per name. Each stripe file holds, as a msgpack
map {name: number}, the highest numeric label each of its names was given, so
that an auto-increment save reads one small file instead of listing every
version of the name:

    with NameLock(git_dir, "iris") as lock:
        n = lock.counter()          # a hint: checked against the refs before use
        lock.set_counter(n + 1)     # before the ref transaction that publishes n + 1

The counter is written in place without its own fsync, before the version ref
is created: the ref transaction's filesystem sync makes both durable together,
so after any crash the counter is at least every numeric label. A counter that
is missing, unreadable or names a label no ref holds (a save that failed after
counting, a renumbering) is never trusted: the caller lists the name's labels
instead and writes the counter again.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from artrepo.gitdb import layout


class NameLock:
    """The exclusive lock of a name's stripe, and access to the name's label counter while held."""

    def __init__(self, git_dir: Path, name: str):
        self.path = layout.name_lock(git_dir, name)
        self.name = name
        self._fd: int | None = None

    def __enter__(self) -> "NameLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def counter(self) -> int | None:
        return _decode(_read_all(self._fd)).get(self.name)

    def set_counter(self, value: int) -> None:
        """Record `value` as the name's highest numeric label (in place: the flock is on this file)."""
        counters = _decode(_read_all(self._fd))
        if counters.get(self.name) == value:
            return
        counters[self.name] = value
        import msgpack

        data = msgpack.packb(counters)
        os.pwrite(self._fd, data, 0)
        os.ftruncate(self._fd, len(data))


def peek_counter(git_dir: Path, name: str) -> int | None:
    """The name's counter read without the lock (a hint: a torn read gives None)."""
    try:
        fd = os.open(layout.name_lock(git_dir, name), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        return _decode(_read_all(fd)).get(name)
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _decode(data: bytes) -> dict[str, int]:
    if not data:
        return {}
    import msgpack

    try:
        doc = msgpack.unpackb(data)
    except Exception:  # torn by a crash or read mid-write: no hint
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: v for k, v in doc.items() if isinstance(k, str) and type(v) is int}
