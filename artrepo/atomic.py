"""The two doors every durable write goes through: atomic files and locks; and how an immutable file is read."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from pathlib import Path


def open_creating(path, flags: int) -> int:
    """os.open with O_CREAT (mode 0o644), making the parent folders only when they are missing (no mkdir per call)."""
    try:
        return os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o644)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_libc = None


def sync_filesystem(folder: Path) -> None:
    """Make everything written so far on `folder`'s filesystem durable (syncfs(2), else sync(2)).

    Each caller issues its own: the kernel already merges concurrent syncs of
    a filesystem (one writeback, shared device cache flushes), and a sync
    shared in user space (callers that arrived while one ran wait for the
    next, issued once for all of them) made 4 concurrent publishers slower on
    the build machine, in threads and in processes (docs/performance.md, Scale).
    Raises OSError when the filesystem reports a write it could not make
    durable (EIO, ENOSPC from syncfs): the caller then publishes nothing.
    """
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _syncfs(fd)
    finally:
        os.close(fd)


def _syncfs(fd: int) -> None:
    global _libc
    import ctypes  # here, not at the top: `artrepo --help` never loads it

    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(_libc, "syncfs"):
        os.sync()
    elif _libc.syncfs(fd) != 0:
        code = ctypes.get_errno()
        if code != errno.ENOSYS:  # EIO, ENOSPC: something written before may be lost, so nothing may refer to it
            raise OSError(code, f"could not make the writes durable (syncfs): {os.strerror(code)}")
        os.sync()


def write_atomic(path: Path, data, *, exclusive: bool = False, sync_dir: bool = True, sync: bool = True) -> bool:
    """Write `data` (bytes, or a list of buffers) to `path`: temp file in the same folder,
    fsync, rename, fsync dir.

    Without `sync_dir` the rename is not made durable here, without `sync`
    neither is the data: the caller runs one `sync_filesystem` before anything
    may refer to the file (the packs and index file of a save).
    With `exclusive`, the file is published with link(2), which fails if
    `path` exists: returns False then, and leaves the existing file alone.
    Readers see either no file or the complete file, never a torn one.
    """
    fd, tmp = _temp_file(path.parent)
    try:
        try:
            write_all(fd, data)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
        else:
            os.replace(tmp, path)
        if sync_dir and sync:
            fsync_dir(path.parent)
        return True
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_temp_count = 0


def _temp_file(folder: Path) -> tuple[int, str]:
    """A new `.tmp-*` file in `folder` (made if missing), open for writing (no tempfile: it imports random)."""
    global _temp_count
    for attempt in range(100):
        _temp_count += 1
        tmp = os.path.join(folder, f".tmp-{os.getpid()}-{time.monotonic_ns()}-{_temp_count}")
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600), tmp
        except FileNotFoundError:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


_IOV_MAX = 1024  # buffers per writev(2) call (Linux's UIO_MAXIOV)


def write_all(fd: int, data) -> None:
    """Write `data` (bytes, or a list of buffers in order), many buffers per system call (writev(2))."""
    views = [memoryview(p).cast("B") for p in (data if isinstance(data, list) else [data]) if len(p)]
    i = 0
    while i < len(views):
        written = os.writev(fd, views[i:i + _IOV_MAX])
        while i < len(views) and written >= len(views[i]):
            written -= len(views[i])
            i += 1
        if written:  # the kernel stopped inside a buffer: go on from there
            views[i] = views[i][written:]


@contextlib.contextmanager
def flock(path: Path, *, shared: bool = False, wait: bool | float = True):
    """Hold an advisory lock on `path` (created if needed) for the block; yields whether it was taken
    (always, when `wait` is True; a number of seconds tries that long).

    The kernel drops it when the process dies, so a SIGKILLed holder never
    leaves a stale lock behind.
    """
    fd = open_creating(path, os.O_RDWR)
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = time.monotonic() + (0 if type(wait) is bool else wait)
        while True:
            try:
                fcntl.flock(fd, mode if wait is True else mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        yield True
    finally:
        os.close(fd)


def read_or_map(path, mapped_min: int):
    """An immutable file's bytes: mapped from `mapped_min` bytes on, else read. A mapping holds a file
    descriptor (Python's mmap keeps a dup of it), so small files mapped by the hundred (a pack per run,
    an index file per save) would exhaust the limit of open files."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size >= mapped_min:
            import mmap

            return mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        with open(fd, "rb", buffering=0, closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)
