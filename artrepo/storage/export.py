"""Writing a stored file into a local file, verified before a byte of it lands there.

    export_file(repo.chunks, stored, fd)   # fd: a new file open for writing
    crc = export_file(repo.chunks, stored, fd, at=offset, crc=True)   # from `offset`, and the CRC-32 (a zip's)

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

With `crc`, each batch's CRC-32 is taken over the verified bytes in the
buffer just before their write (ISA-L releases the GIL: both threads do it),
and the batches' CRCs are combined in file order: a zip entry's data is
written once, by the same `pwrite`s, instead of through zipfile's one thread
computing the CRC, then writing (0.63x of cp + BLAKE3 for a 1 GiB file).
`read_ahead` serves a stream that must pass through zipfile's own writer (a
compressed entry; a zip sent over a socket) from the same aligned buffers.
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


def export_file(store, stored: StoredFile, fd: int, at: int = 0, crc: bool = False) -> int | None:
    """Write the bytes of `stored` from `store` (a ChunkStore) into `fd` from offset `at`, each chunk verified;
    with `crc`, return their CRC-32."""
    size = PARALLEL_FROM // 4  # the consecutive chunks a thread takes at a time (a file two threads share has 4+)
    batches, batch, pos, start = [], [], 0, 0
    for cid, n in stored.chunks:
        batch.append((cid, n, at + pos))
        pos += n
        if pos - start >= size:
            batches.append(batch)
            batch, start = [], pos
    if batch:
        batches.append(batch)
    os.ftruncate(fd, at + pos)  # the final size at once; chunks land at their offsets
    queue = _Batches(batches)
    crcs = [0] * len(batches) if crc else None  # each batch's CRC-32, by its index
    if pos < PARALLEL_FROM or len(batches) < 2:
        _Copier(store, fd, crcs).run(queue)
    else:
        _two_threads(lambda: _Copier(store, fd, crcs).run(queue))
    if crcs is None:
        return None
    whole, combine = 0, _isal().crc32_combine
    for one, batch in zip(crcs, batches):
        whole = combine(whole, one, batch[-1][2] + batch[-1][1] - batch[0][2])  # its end minus its start
    return whole


def _isal():
    """ISA-L's zlib functions: a CRC-32 3-13x zlib's, and the combine Python's zlib keeps to C (imported for a zip
    only: 1 ms, not on a save's or load's path)."""
    from isal import isal_zlib

    return isal_zlib


def _two_threads(run) -> None:
    """`run()` in this thread and in a second one at once; the first error either raised."""
    failed: list[BaseException] = []

    def other() -> None:
        try:
            run()
        except BaseException as exc:  # raised in the caller's thread below
            failed.append(exc)

    helper = threading.Thread(target=other, name="artrepo-export", daemon=True)  # no concurrent.futures import
    helper.start()
    try:
        run()
    finally:
        helper.join()
    if failed:
        raise failed[0]


class _Batches:
    """The batches (with their index), handed out in order to whichever thread asks next; none after a thread failed."""

    def __init__(self, batches: list):
        self._it = iter(enumerate(batches))
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

    def __init__(self, store, fd: int, crcs: list[int] | None):
        self.store, self.fd, self.crcs = store, fd, crcs
        self.local = store.root is not None
        self.buf: mmap.mmap | None = None
        self.crc = 0  # of the current batch's bytes written so far
        self.crc32 = _isal().crc32 if crcs is not None else None

    def run(self, batches: _Batches) -> None:
        try:
            for index, batch in batches:
                i, self.crc = 0, 0
                while i < len(batch):
                    i = self.store._retrying(lambda i=i: self._run_at(batch, i))
                if self.crcs is not None:
                    self.crcs[index] = self.crc
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
            self._write(self.store.read_chunk(cid), pos)
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
        if self.buf is None:  # a run is under RUN + one chunk (entries are checked: a raw blob is its chunk,
            # at most MAX_CHUNK)
            self.buf = aligned_buffer(RUN + MAX_CHUNK)
        with placed(self.buf, pos, end - first.offset) as view:
            self.store.read_range(pid, first.offset, len(view), into=view)
            at = 0
            for e in run:  # every chunk before any byte of the run reaches the destination
                with view[at:at + e.length] as one:
                    verify_chunk(one, e, pid)
                at += e.length
            self._write(view, pos)
        return i + len(run)

    def _write(self, data, pos: int) -> None:
        crc = self.crc32(data, self.crc) if self.crc32 else 0  # before: the bytes are in the cache
        write_at(self.fd, data, pos)
        self.crc = crc  # once written: a retried run is not counted twice


def aligned_buffer(size: int) -> mmap.mmap:
    """A page-aligned buffer of `size` bytes and a page more, for views at any skew into a page (`placed`)."""
    return mmap.mmap(-1, size + PAGE)


def placed(buf: mmap.mmap, pos: int, size: int) -> memoryview:
    """The `size` bytes of `buf` to be written at file offset `pos`: they agree with it modulo the page size
    (unaligned runs of MiBs were written at ~0.8 GB/s here, aligned ones at the speed of `cp`)."""
    skew = pos % PAGE
    return memoryview(buf)[skew:skew + size]


def stored_raw(store, stored: StoredFile) -> bool:
    """Whether zstd shrank none of the chunks of `stored` (a zip stores such a file as is: deflate would take
    ~25 s/GiB to gain nothing)."""
    return all(store.locate(cid)[1].codec == CODEC_RAW for cid, _n in stored.chunks)


def read_ahead(src, size: int, pos: int, block: int = 1 << 20):
    """The `size` bytes of the reader `src`, as views of `block` bytes each, placed for file offset `pos`; a
    thread reads (and verifies) the next while the caller uses one (a file of one block is read here, without
    a thread). The two buffers are small enough to stay in the CPU cache between the read and the caller's
    use; they are freed with their last view, never closed: a view held by a failed read's traceback would
    make `close` raise over the real error.
    """
    if size <= block:
        with placed(aligned_buffer(max(size, 1)), pos, size) as buf:
            n = src.readinto(buf) if size else 0
            if n:
                yield buf[:n]
        return
    import queue

    free, full = queue.SimpleQueue(), queue.SimpleQueue()
    for _ in range(2):
        free.put(placed(aligned_buffer(block), pos, block))

    def fill() -> None:
        try:
            while (buf := free.get()) is not None:
                n = src.readinto(buf)
                full.put((buf, n))
                if not n:
                    return
        except BaseException as exc:  # raised in the caller's thread
            full.put((exc, 0))

    reader = threading.Thread(target=fill, name="artrepo-zip", daemon=True)
    reader.start()
    try:
        while True:
            buf, n = full.get()
            if isinstance(buf, BaseException):
                raise buf
            if not n:
                return
            yield buf[:n]
            free.put(buf)
    finally:
        free.put(None)  # the reader stops at its next turn
        reader.join()


def write_at(fd: int, data, pos: int) -> int:
    view, done = memoryview(data), 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], pos + done)
    return done
