"""ChunkStore: the content store, chunks in packs with an index, over any backend.

    store = ChunkStore(Path(".artrepo/chunks"))          # a repository's own store
    store = open_store("s3://bucket/team", endpoint_url)  # a remote's: the same code

Writing (bytes -> chunks -> packs -> index) is in packwriter.py; reading is
chunk id -> index -> the blob's bytes -> bounded decompression -> BLAKE3
check, always. A repository's store shards packs (`packs/<xx>/<id>`), a
remote's keeps them flat (`packs/<id>`); both keep index files in `index/`.
On the local filesystem (a repository, or a folder remote) blobs are read
with pread/preadv on cached descriptors, packs are written from the caller's
memory, and one syncfs makes a save's packs durable before its index; on any
other backend, blobs come from ranged GETs (adjacent blobs in one request)
and packs go up with create-only writes, so many processes on many machines
may write into one store at once.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from artrepo.atomic import sync_filesystem, write_atomic
from artrepo.errors import IntegrityError
from artrepo.storage.backend import Backend, MissingObjectError, ObjectInfo, joined, open_backend
from artrepo.storage.backends.local import LocalBackend
from artrepo.storage.files import FileReader
from artrepo.storedfile import StoredFile
from artrepo.storage.ids import PackId, short
from artrepo.storage.index import ChunkIndex
from artrepo.storage.packfile import (CODEC_RAW, MAX_BLOBS, MAX_FOOTER, PackEntry, check_blob, decode_footer,
                                      verify_chunk)

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from artrepo.storage.packwriter import WriteSession

PACKS = "packs"
# A pack already in a remote store is counted on only while younger than this; an older one is written
# again (which makes it young), so a remote gc with a grace period longer than this window plus a
# writer's duration never deletes a pack that writer counts on (docs/reliability.md, "Remote gc").
REUSE_WINDOW = 30 * 60
MAX_OPEN_PACKS = 64  # pack descriptors kept open between reads (the open-files limit is often 1,024)
RANGE_GAP = 256 * 1024  # blobs this close in one pack are fetched with one ranged GET
READERS = 4  # ranged GETs in flight
SORTED_FROM = 4096  # index files of this many entries or more are written in format 2
FSYNC_FROM = 1 << 20  # local packs this large are fsynced as they are written; smaller ones by `publish`'s sync


class PackMissingError(IntegrityError):
    """A pack the index names is not there (removed by a repack since the index was read, or lost)."""


class ChunkStore:
    """Chunks in packs with an index, in a local folder (`Path`) or any `Backend`.

    `index_files` makes the index exactly those files (a remote's ref table
    lists them) instead of every file under `index/`; `cache` is a local
    folder that keeps verified copies of downloaded index files.
    """

    def __init__(self, where: Backend | Path, *, index_files: list[str] | None = None, cache: Path | None = None):
        if isinstance(where, Backend):
            self.backend, self.sharded = where, False
        else:
            self.backend, self.sharded = LocalBackend(str(where)), True
        self.root: Path | None = self.backend.local_path("")  # None off the local filesystem
        # A repository's own store: its index files may be of format 2, and a save's index file is made
        # durable by the sync of the ref transaction that publishes the save (nothing reads it before).
        self.deferred_sync = self.sharded
        self.index = ChunkIndex(self.backend, cache=cache, sorted_from=SORTED_FROM)
        self._fds: dict[bytes, int] = {}  # pack id -> open descriptor, least recently used first
        self._users: dict[int, int] = {}  # descriptor -> readers using it now
        self._lock = threading.Lock()
        self._missing_lock = threading.Lock()
        self._lane: ThreadPoolExecutor | None = None  # second reader thread, started on demand
        # Called with a chunk id the store lacks; returns True once it has
        # stored it (remotes set this to fetch chunks on demand).
        self.fetch_missing: Callable[[bytes], bool] | None = None
        if index_files is None:
            self.index.refresh()
        else:
            self.index.use(index_files)

    def pack_key(self, pack_id: bytes) -> str:
        h = pack_id.hex()
        return f"{PACKS}/{h[:2]}/{h}" if self.sharded else f"{PACKS}/{h}"

    def pack_path(self, pack_id: bytes) -> Path:
        return self.root / self.pack_key(pack_id)

    def has(self, chunk_id: bytes) -> bool:
        return self.index.lookup(chunk_id) is not None

    def session(self) -> "WriteSession":
        from artrepo.storage.packwriter import WriteSession

        self.index.refresh()
        return WriteSession(self)

    # -- reading ---------------------------------------------------------
    def locate(self, chunk_id: bytes) -> tuple[PackId, PackEntry]:
        loc = self.index.lookup(chunk_id)
        if loc is None:
            with self._missing_lock:  # reader threads refresh and fetch one at a time
                self.index.refresh()
                loc = self.index.lookup(chunk_id)
                if loc is None and self.fetch_missing is not None and self.fetch_missing(chunk_id):
                    self.index.refresh()
                    loc = self.index.lookup(chunk_id)
            if loc is None:
                raise IntegrityError(f"chunk {short(chunk_id)} is missing from the store")
        return loc

    def _retrying(self, read):
        """`read()`, once more after re-reading the index if a pack it used is gone (a repack moved its chunks)."""
        try:
            return read()
        except PackMissingError:
            with self._missing_lock:
                self.index.refresh()
            return read()

    @contextlib.contextmanager
    def pack_fd(self, pack_id: bytes):
        """An open descriptor of a local pack, for the block; at most MAX_OPEN_PACKS stay open between uses.

        A process reading chunks of 100,000 packs (fsck, gc, a push) must stay
        under the open-files limit: the least recently used descriptor is closed
        (by its last user, if one is reading through it).
        """
        with self._lock:
            fd = self._fds.pop(pack_id, None)
            if fd is None:
                try:
                    fd = os.open(self.pack_path(pack_id), os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    raise PackMissingError(f"pack {short(pack_id)} is missing") from None
            self._fds[pack_id] = fd  # most recently used last
            self._users[fd] = self._users.get(fd, 0) + 1
            while len(self._fds) > MAX_OPEN_PACKS:
                old = self._fds.pop(next(iter(self._fds)))
                if old not in self._users:
                    os.close(old)
        try:
            yield fd
        finally:
            with self._lock:
                left = self._users.pop(fd) - 1
                if left:
                    self._users[fd] = left
                elif self._fds.get(pack_id) != fd:
                    os.close(fd)  # evicted while in use

    def read_range(self, pack_id: bytes, offset: int, length: int, into=None):
        """`length` bytes of a pack from `offset` (into `into` if given); IntegrityError if short."""
        if self.root is not None:
            with self.pack_fd(pack_id) as fd:
                if into is None:
                    data = os.pread(fd, length, offset)
                    got = len(data)
                else:
                    got, data = os.preadv(fd, [into], offset), into
        else:
            try:
                data = self.backend.get_range(self.pack_key(pack_id), offset, length)
            except MissingObjectError:
                raise PackMissingError(f"pack {short(pack_id)} is missing") from None
            got = len(data)
            if into is not None and got == length:
                into[:] = data
                data = into
        if got != length:
            raise IntegrityError(f"pack {short(pack_id)}: truncated (read {got} of {length} bytes at {offset})")
        return data

    def read_chunk(self, chunk_id: bytes) -> bytes:
        """The verified plaintext of one chunk."""
        def read():
            pid, e = self.locate(chunk_id)
            return check_blob(self.read_range(pid, e.offset, e.length), e, pid)

        return self._retrying(read)

    def read_chunks_into(self, items: list[tuple[bytes, memoryview]]) -> None:
        """Read chunks straight into their `memoryview`s (each exactly its raw length), verified. Locally half of them go to a second thread (preadv and
        BLAKE3 release the GIL); elsewhere adjacent blobs come in one ranged GET, several in flight."""
        self._retrying(lambda: self._read_chunks_into(items))

    def _read_chunks_into(self, items: list[tuple[bytes, memoryview]]) -> None:
        from concurrent.futures import ThreadPoolExecutor, wait

        runs = self._runs(items)
        if len(runs) < 4:
            self._read_runs(runs)
        elif self.root is None:
            with ThreadPoolExecutor(READERS, thread_name_prefix="artrepo-get") as pool:
                for future in [pool.submit(self._read_run, *run) for run in runs]:
                    future.result()
        else:
            with self._lock:
                if self._lane is None:
                    self._lane = ThreadPoolExecutor(1, thread_name_prefix="artrepo-read")
            other = self._lane.submit(self._read_runs, runs[len(runs) // 2:])
            try:
                self._read_runs(runs[:len(runs) // 2])
            except BaseException:
                wait([other])
                raise
            other.result()

    def _runs(self, items) -> list[tuple[bytes, int, int, list]]:
        """(pack, start, end, [(entry, dest)]): one read each (elsewhere than locally, adjacent blobs together)."""
        runs: list = []
        for cid, dest in items:
            pid, e = self.locate(cid)
            if len(dest) != e.raw_length:
                raise IntegrityError(f"chunk {short(cid)}: length {e.raw_length}, expected {len(dest)}")
            last = runs[-1] if runs else None
            if (self.root is None and last is not None and last[0] == pid and last[2] <= e.offset <= last[2] + RANGE_GAP
                    and e.offset + e.length - last[1] <= MAX_BLOBS):
                runs[-1] = (pid, last[1], e.offset + e.length, last[3] + [(e, dest)])
            else:
                runs.append((pid, e.offset, e.offset + e.length, [(e, dest)]))
        return runs

    def _read_runs(self, runs: list) -> None:
        for run in runs:
            self._read_run(*run)

    def _read_run(self, pid: bytes, start: int, end: int, parts: list) -> None:
        if len(parts) == 1 and parts[0][0].codec == CODEC_RAW:  # straight into the caller's memory
            e, dest = parts[0]
            verify_chunk(self.read_range(pid, start, end - start, into=dest), e, pid)
            return
        view = memoryview(self.read_range(pid, start, end - start))
        for e, dest in parts:
            dest[:] = check_blob(view[e.offset - start:e.offset - start + e.length], e, pid)

    def open(self, stored: StoredFile) -> FileReader:
        return FileReader(self, stored)

    def close(self) -> None:
        with self._lock:
            if self._lane is not None:
                self._lane.shutdown()
                self._lane = None
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    # -- whole packs (writers, transfer, fsck, gc) ---------------------------------
    def list_packs(self) -> tuple[dict[PackId, ObjectInfo], list[str]]:
        """Every pack with its size and age (one listing), and the keys under packs/ that are no pack."""
        packs, stray = {}, []
        for key, info in self.backend.stat_prefix(PACKS).items():
            name = key.rsplit("/", 1)[-1]
            try:
                pid = PackId(bytes.fromhex(name))
            except ValueError:
                pid = None
            if pid is None or len(pid) != 32 or self.pack_key(pid) != key:
                stray.append(key)
            else:
                packs[pid] = info
        return packs, stray

    def read_pack(self, pack_id: bytes, size: int) -> bytes:
        """The first `size` bytes of a pack (its whole size, from the index or a listing): never more."""
        if size > MAX_BLOBS + MAX_FOOTER:
            raise IntegrityError(f"pack {short(pack_id)}: {size} bytes, larger than the format allows")
        return self.read_range(pack_id, 0, size)

    def read_footer(self, pack_id: bytes, size: int) -> list[PackEntry]:
        """The entries a pack of `size` bytes lists in its footer (not checked against its id)."""
        tail = min(size, MAX_FOOTER)
        return decode_footer(self.read_range(pack_id, size - tail, tail), size, short(pack_id))

    def write_pack(self, pack_id: bytes, parts: list, *, replace: bool = False) -> bool:
        """Store a pack from its parts (buffers in file order); False if it was there already.

        Packs are content-addressed: one already stored holds the same chunks,
        so it is kept (and made young again, for gc). `replace` writes over a
        damaged one. Locally the rename becomes durable in `publish`.
        """
        key = self.pack_key(pack_id)
        if self.root is not None:
            path = self.root / key
            if not replace and path.exists():
                os.utime(path)  # it is needed again: restart its gc grace period
                return False
            write_atomic(path, parts, sync_dir=False, sync=sum(len(p) for p in parts) >= FSYNC_FROM)
            return True
        data = joined(parts)
        # One request for a new pack (no HEAD first: the index said the store lacks these chunks);
        # only a pack that was there already (an interrupted push left it) is looked at.
        if not replace and self.backend.put_new(key, data):
            return True
        found = None if replace else self.backend.info(key)
        if found is not None and found.size == len(data) and _young(found.mtime):
            return False
        self.backend.put(key, data)  # old or damaged: write it again (young for gc)
        return True

    def publish(self, packs: dict[PackId, list[PackEntry]]) -> str | None:
        """Make the packs written so far durable, then write one index file naming them; returns its name."""
        if not packs:
            return None
        if self.root is not None:
            sync_filesystem(self.root)  # packs (data and names) durable before the index that names them
        return self.index.write(packs, durable=not self.deferred_sync)

    def delete_pack(self, pack_id: bytes) -> None:
        self.backend.delete(self.pack_key(pack_id))


def _young(mtime: float | None) -> bool:
    return mtime is not None and time.time() - mtime < REUSE_WINDOW


def open_store(url: str, endpoint_url: str | None = None, *, index_files: list[str] | None = None,
               cache: Path | None = None) -> ChunkStore:
    """The content store at a URL (a folder, `s3://bucket/prefix`, any fsspec URL): save and load through it."""
    return ChunkStore(open_backend(url, endpoint_url), index_files=index_files, cache=cache)
