"""The per-name lock and the label counters it keeps (docs/format.md §8, "Auto-increment").

Names are locked through a fixed set of stripe files, `locks/name-<xx>`
(`layout.name_lock`): no file per name. Each stripe file holds, as a msgpack
map {name: number}, the highest numeric label each of its names was given, so
that an auto-increment save reads one small file instead of listing every
version of the name:

    with NameLock(git_dir, "iris") as lock:
        n = lock.counter()          # a hint: checked against the refs before use
        lock.set_counter(n + 1)     # before the ref transaction that publishes n + 1

`NameLocks` holds the stripes of many names at once (a pull adopting 10,000
names), taken in stripe order so that two such holders never deadlock.

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

from artrepo.atomic import open_creating
from artrepo.gitdb import layout


class NameLocks:
    """The exclusive locks of the stripes of several names (taken in stripe order), and their counters."""

    def __init__(self, git_dir: Path, names):
        self.git_dir = Path(git_dir)
        self.names = list(names)
        self._fds: dict[int, int] = {}
        self._read: dict[int, dict[str, int]] = {}  # stripe -> its counters, as read or written under the lock

    def __enter__(self) -> "NameLocks":
        try:
            for stripe in sorted({layout.name_stripe(n) for n in self.names}):
                fd = open_creating(layout.name_stripe_lock(self.git_dir, stripe), os.O_RDWR)
                self._fds[stripe] = fd
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self._read.clear()

    def _counters(self, stripe: int) -> dict[str, int]:
        """The stripe's counters: read once while locked (only a holder of the lock writes them)."""
        counters = self._read.get(stripe)
        if counters is None:
            counters = self._read[stripe] = _decode(_read_all(self._fds[stripe]))
        return counters

    def counter_of(self, name: str) -> int | None:
        return self._counters(layout.name_stripe(name)).get(name)

    def raise_counter(self, name: str, value: int) -> None:
        """Make the name's counter at least `value` (in place: the flock is on this file)."""
        stripe = layout.name_stripe(name)
        counters = self._counters(stripe)
        if counters.get(name, 0) >= value:
            return
        counters[name] = value
        import msgpack

        data = msgpack.packb(counters)
        fd = self._fds[stripe]
        os.pwrite(fd, data, 0)
        if os.fstat(fd).st_size > len(data):  # a counter of fewer bytes, or a damaged file: cut the rest
            os.ftruncate(fd, len(data))


class NameLock(NameLocks):
    """The lock of one name's stripe, and that name's label counter while held."""

    def __init__(self, git_dir: Path, name: str):
        super().__init__(git_dir, [name])
        self.name = name

    def counter(self) -> int | None:
        return self.counter_of(self.name)

    def set_counter(self, value: int) -> None:
        self.raise_counter(self.name, value)


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
