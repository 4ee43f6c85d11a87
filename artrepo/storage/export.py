"""Writing a stored file into a local file, verified before a byte of it lands there.

    export_file(repo.chunks, stored, fd)   # fd: a new file open for writing

Chunks stored raw and back to back in one local pack are read as a run (up
to RUN bytes) with one `preadv` into a reused page-aligned buffer, hashed
there while it is in the CPU cache, and, once every chunk of the run matches
its id, written with one `pwrite` at the run's place in the file; the buffer
is offset so that it and the file agree modulo the page size. A compressed
chunk, or one in a remote store, is read, decoded, hashed and written.

Two threads take turns at batches of a large file's chunks: the reads and
the hashing overlap, the writes into the one file take turns at its lock.
Measured (bench/bench_export.py, docs/performance.md "Export of an old
version"): this beats `copy_file_range` runs hashed in a mapping of the pack,
because a chunk's offset in its pack rarely agrees with its offset in the
file modulo the page size, and the kernel's copy of such a run costs ~1.5x an
aligned `cp`; a mapping is also read from memory twice (hash, then copy).
"""
from __future__ import annotations

import mmap
import os
import threading

from artrepo.errors import IntegrityError
from artrepo.storage.files import StoredFile
from artrepo.storage.ids import short
from artrepo.storage.packfile import CODEC_RAW, MAX_CHUNK, verify_chunk

PARALLEL_FROM = 8 << 20  # files this large are exported by two threads
RUN = 1 << 20  # a run of back-to-back raw chunks is read and written whole once it reaches this
PAGE = mmap.PAGESIZE


def export_file(store, stored: StoredFile, fd: int) -> None:
    """Write the bytes of `stored` from `store` (a ChunkStore) into `fd` from offset 0, each chunk verified."""
    size = PARALLEL_FROM // 4  # the consecutive chunks a thread takes at a time (a file two threads share has 4+)
    batches, batch, pos, start = [], [], 0, 0
    for cid, n in stored.chunks:
        batch.append((cid, n, pos))
        pos += n
        if pos - start >= size:
            batches.append(batch)
            batch, start = [], pos
    if batch:
        batches.append(batch)
    os.ftruncate(fd, pos)  # the final size at once; chunks land at their offsets
    queue = _Batches(batches)
    if pos < PARALLEL_FROM or len(batches) < 2:
        _Copier(store, fd).run(queue)
        return
    failed: list[BaseException] = []

    def other() -> None:
        try:
            _Copier(store, fd).run(queue)
        except BaseException as exc:  # raised in the caller's thread below
            failed.append(exc)

    helper = threading.Thread(target=other, name="artrepo-export", daemon=True)  # no concurrent.futures import
    helper.start()
    try:
        _Copier(store, fd).run(queue)
    finally:
        helper.join()
    if failed:
        raise failed[0]


class _Batches:
    """The batches, handed out in order to whichever thread asks next; none after a thread failed."""

    def __init__(self, batches: list):
        self._it = iter(batches)
        self._lock = threading.Lock()
        self.failed = False

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            if self.failed:
                raise StopIteration
            return next(self._it)


class _Copier:
    """One thread's share of an export, with its own buffer (unmapped with the copier; never closed, since a view of
    it in a failed write's traceback would make `close` raise over the real error)."""

    def __init__(self, store, fd: int):
        self.store, self.fd = store, fd
        self.local = store.root is not None
        self.buf: mmap.mmap | None = None

    def run(self, batches: _Batches) -> None:
        try:
            for batch in batches:
                i = 0
                while i < len(batch):
                    i = self.store._retrying(lambda i=i: self._run_at(batch, i))
        except BaseException:
            batches.failed = True
            raise

    def _run_at(self, batch: list, i: int) -> int:
        """Write batch[i] and the raw chunks lying right behind it in the same pack; the next index."""
        cid, n, pos = batch[i]
        pid, first = self.store.locate(cid)
        if first.raw_length != n:
            raise IntegrityError(f"chunk {short(cid)}: length {first.raw_length}, expected {n}")
        if not (self.local and first.codec == CODEC_RAW):
            _write_at(self.fd, self.store.read_chunk(cid), pos)
            return i + 1
        run, end = [first], first.offset + first.length
        for cid, n, _pos in batch[i + 1:]:
            if end - first.offset >= RUN:
                break
            pid2, e = self.store.locate(cid)
            if pid2 != pid or e.codec != CODEC_RAW or e.offset != end or e.raw_length != n:
                break
            run.append(e)
            end += e.length
        if self.buf is None:  # page-aligned; a run is under RUN + one chunk (entries are checked: a raw blob
            # is its chunk, at most MAX_CHUNK)
            self.buf = mmap.mmap(-1, RUN + MAX_CHUNK + PAGE)
        skew = pos % PAGE
        with memoryview(self.buf) as whole, whole[skew:skew + end - first.offset] as view:
            self.store.read_range(pid, first.offset, len(view), into=view)
            at = 0
            for e in run:  # every chunk before any byte of the run reaches the destination
                with view[at:at + e.length] as one:
                    verify_chunk(one, e, pid)
                at += e.length
            _write_at(self.fd, view, pos)
        return i + len(run)


def _write_at(fd: int, data, pos: int) -> int:
    view, done = memoryview(data), 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], pos + done)
    return done
