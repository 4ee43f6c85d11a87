"""Writing a stored file into a local file, verified, with the kernel doing the copying where it can.

    export_file(repo.chunks, stored, fd)   # fd: a new file open for writing

A chunk stored raw in a local pack is hashed where it lies (a read-only
mapping of its pack: the page cache, no copy into Python) and, once its
BLAKE3 matches its id, copied into the destination by `copy_file_range(2)`
(in-kernel; pread/pwrite where the kernel refuses it). A
compressed chunk, or one in a remote store, is read, decoded, hashed and
written. Nothing unverified reaches the destination. Two threads share the
chunks of a large file (BLAKE3 and the copies release the GIL): the cost is
about one `cp` of the file plus one hashing pass over it.
"""
from __future__ import annotations

import mmap
import os

from artrepo.errors import IntegrityError
from artrepo.storage.files import StoredFile
from artrepo.storage.ids import short
from artrepo.storage.packfile import CODEC_RAW, verify_chunk

PARALLEL_FROM = 8 << 20  # files this large are exported by two threads


def export_file(store, stored: StoredFile, fd: int) -> None:
    """Write the bytes of `stored` from `store` (a ChunkStore) into `fd` from offset 0, each chunk verified."""
    jobs, pos = [], 0
    for cid, n in stored.chunks:
        jobs.append((cid, n, pos))
        pos += n
    os.ftruncate(fd, pos)  # the final size at once; chunks land at their offsets
    if pos < PARALLEL_FROM or len(jobs) < 4:
        _Copier(store, fd).run(jobs)
        return
    from concurrent.futures import ThreadPoolExecutor

    half = len(jobs) // 2
    with ThreadPoolExecutor(1, thread_name_prefix="artrepo-export") as pool:
        other = pool.submit(_Copier(store, fd).run, jobs[half:])
        try:
            _Copier(store, fd).run(jobs[:half])
        finally:
            other.result()


class _Copier:
    """One thread's share of an export (its own mappings of the packs it reads)."""

    def __init__(self, store, fd: int):
        self.store, self.fd = store, fd
        self.maps: dict[bytes, mmap.mmap] = {}
        self.kernel_copy = store.root is not None

    def run(self, jobs) -> None:
        try:
            for cid, n, pos in jobs:
                self.store._retrying(lambda cid=cid, n=n, pos=pos: self._one(cid, n, pos))
        finally:
            for m in self.maps.values():
                m.close()

    def _one(self, cid: bytes, n: int, pos: int) -> None:
        pid, e = self.store.locate(cid)
        if e.raw_length != n:
            raise IntegrityError(f"chunk {short(cid)}: length {e.raw_length}, expected {n}")
        if not (self.kernel_copy and e.codec == CODEC_RAW):
            _write_at(self.fd, self.store.read_chunk(cid), pos)
            return
        with self.store.pack_fd(pid) as src:
            data = self._map(pid, src)
            if e.offset + e.length > len(data):
                raise IntegrityError(f"pack {short(pid)}: truncated (chunk {short(cid)} ends past its end)")
            view = memoryview(data)[e.offset:e.offset + e.length]
            try:
                verify_chunk(view, e, pid)  # before any byte reaches the destination
            finally:
                view.release()
            self._copy(src, e.offset, n, pos)

    def _map(self, pid: bytes, src: int) -> mmap.mmap:
        found = self.maps.get(pid)
        if found is None:
            found = self.maps[pid] = mmap.mmap(src, 0, access=mmap.ACCESS_READ)
        return found

    def _copy(self, src: int, offset: int, n: int, pos: int) -> None:
        done = 0
        while done < n:
            if self.kernel_copy:
                try:
                    k = os.copy_file_range(src, self.fd, n - done, offset + done, pos + done)
                except OSError:  # another filesystem or an old kernel: copy through here
                    self.kernel_copy = False
                    continue
            else:
                k = _write_at(self.fd, os.pread(src, n - done, offset + done), pos + done)
            if k == 0:
                raise IntegrityError("pack ended early while exporting")
            done += k


def _write_at(fd: int, data, pos: int) -> int:
    view, done = memoryview(data), 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], pos + done)
    return done
