"""Files of a git directory read and written as git does: small files read without a file object,
git's `<name>.lock` files, `packed-refs` replaced under its lock, reflog lines (refs.py uses them)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from artrepo.atomic import fsync_dir, open_creating, write_all
from artrepo.errors import RefLockedError
from artrepo.gitdb.layout import IDENTITY

_BLOCK = 1 << 16
_ZERO = "0" * 40


def read_file(path: str, limit: int | None = None) -> bytes:
    """A small file's bytes (the first `limit` only, if given) without a Python file object.

    `open()` builds a buffered file object per call: half the time of reading
    a loose object, and `artrepo log` reads three per version.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if limit is not None:
            return os.read(fd, limit)
        data = os.read(fd, _BLOCK)
        if len(data) < _BLOCK:  # a short read of a regular file is its end
            return data
        parts = [data]
        while data := os.read(fd, _BLOCK):
            parts.append(data)
        return b"".join(parts)
    finally:
        os.close(fd)


def remove_empty_folders(git_dir: Path, name: str) -> None:
    """Remove the folders of `name` that are now empty, up to refs/ (as git pack-refs does)."""
    folder, top = (git_dir / name).parent, git_dir / "refs"
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def read_loose(path: str, limit: int) -> str | None:
    """A loose ref file's text, None if it vanished (packed or deleted meanwhile)."""
    try:
        return read_file(path, limit).decode("ascii", "replace").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"<unreadable: {exc}>"


def loose_refs(git_dir: Path, prefix: str, skip=()) -> dict[str, str]:
    """The loose ref files under `prefix` as {name: text} (`skip`: folders right under `prefix` left out)."""
    top = os.path.join(git_dir, prefix).rstrip("/")
    out = {}
    for folder, dirs, files in os.walk(top):
        if folder == top:
            dirs[:] = [d for d in dirs if d not in skip]
        for fname in files:
            if not fname.endswith(".lock"):
                path = os.path.join(folder, fname)
                text = read_loose(path, 200)
                if text is not None:
                    out[Path(path).relative_to(git_dir).as_posix()] = text
    return out


def take_lock_file(git_dir: Path, name: str, *, flocked: bool = True, keep_open: bool = False):
    """git's `<name>.lock`, created exclusively.

    When the caller holds the ref's flock (`flocked`), a lock file found at
    once is stale (its writer held the flock and is gone) and is removed; one
    that appears meanwhile belongs to a writer outside artrepo's flocks (stock
    git), which holds it a moment. A folder removed meanwhile (ref packing
    removes emptied folders) is made again. With `keep_open`, returns (path, open descriptor).
    """
    lock_path = git_dir / (name + ".lock")
    for attempt in range(100):
        try:
            fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            if keep_open:
                return lock_path, fd
            os.close(fd)
            return lock_path
        except FileNotFoundError:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            if flocked and attempt == 0:  # there at once: stale (tried first: an unlink per ref costs more)
                lock_path.unlink(missing_ok=True)
                continue
            time.sleep(min(0.05, 0.001 * (attempt + 1)))
    raise RefLockedError(f"ref {name} stayed locked by another writer; try again")


def replace_packed(git_dir: Path, data: bytes, *, durable: bool = True) -> None:
    """Write a new `packed-refs` under git's `packed-refs.lock` (the caller holds the packed-refs flock).

    A `packed-refs.lock` still there after a while, while we hold the flock
    every artrepo writer takes, was left by a killed writer: it is removed.
    """
    try:
        lock_path = take_lock_file(git_dir, "packed-refs", flocked=False)  # stock git takes it too
    except RefLockedError:
        lock_path = take_lock_file(git_dir, "packed-refs", flocked=True)
    try:
        fd = os.open(lock_path, os.O_WRONLY | os.O_TRUNC)
        try:
            write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(lock_path, git_dir / "packed-refs")
        if durable:
            fsync_dir(git_dir)
    finally:
        lock_path.unlink(missing_ok=True)


def append_reflog(git_dir: Path, name: str, old: str | None, new: str, message: str) -> None:
    offset = time.localtime().tm_gmtoff // 60
    tz = f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    line = f"{old or _ZERO} {new} {IDENTITY} {int(time.time())} {tz}\t{' '.join(message.split())}\n"
    fd = open_creating(git_dir / "logs" / name, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
