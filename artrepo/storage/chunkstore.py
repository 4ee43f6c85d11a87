"""ChunkStore: files in as chunk lists, verified bytes out.

The write path (bytes -> chunks -> packs -> index) is in packwriter.py.
Read path: chunk id -> index -> pread from the pack -> bounded decompress ->
hash check, always.
"""
from __future__ import annotations

import io
import os
import threading
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from artrepo.errors import IntegrityError
from artrepo.storage import hashing
from artrepo.storage.index import ChunkIndex
from artrepo.storage.packfile import CODEC_RAW, CODEC_ZSTD, PackEntry, decode_header

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from artrepo.storage.packwriter import WriteSession

PACK_TARGET = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One file of a payload: its relative path, mode, size and chunk list."""

    path: str
    size: int
    chunks: tuple[tuple[bytes, int], ...]  # (chunk id, raw length)
    executable: bool = False
    symlink: str | None = None  # link target text, for a stored symlink


class ChunkStore:
    """The chunk and pack folder of one repository."""

    def __init__(self, root: Path, tmp: Path):
        self.root = root
        self.tmp = tmp
        self.index = ChunkIndex(root / "index")
        self._fds: dict[bytes, int] = {}
        self._lock = threading.Lock()
        self._missing_lock = threading.Lock()
        self._lane: ThreadPoolExecutor | None = None  # second reader thread, started on demand
        # Called with a chunk id the store lacks; returns True once it has
        # stored it (remotes set this to fetch chunks on demand).
        self.fetch_missing: Callable[[bytes], bool] | None = None
        self.index.refresh()

    def pack_path(self, pack_id: bytes) -> Path:
        h = pack_id.hex()
        return self.root / "packs" / h[:2] / h

    def has(self, chunk_id: bytes) -> bool:
        return chunk_id in self.index.locations

    def session(self) -> "WriteSession":
        from artrepo.storage.packwriter import WriteSession

        self.index.refresh()
        return WriteSession(self)

    # -- reading ---------------------------------------------------------
    def _fd(self, pack_id: bytes) -> int:
        with self._lock:
            fd = self._fds.get(pack_id)
            if fd is None:
                try:
                    fd = os.open(self.pack_path(pack_id), os.O_RDONLY)
                except FileNotFoundError:
                    raise IntegrityError(f"pack {pack_id.hex()[:12]} is missing") from None
                self._fds[pack_id] = fd
            return fd

    def _locate(self, chunk_id: bytes) -> tuple[bytes, PackEntry]:
        loc = self.index.locations.get(chunk_id)
        if loc is None:
            with self._missing_lock:  # reader threads refresh and fetch one at a time
                self.index.refresh()
                loc = self.index.locations.get(chunk_id)
                if loc is None and self.fetch_missing is not None and self.fetch_missing(chunk_id):
                    self.index.refresh()
                    loc = self.index.locations.get(chunk_id)
            if loc is None:
                raise IntegrityError(f"chunk {chunk_id.hex()[:12]} is missing from the store")
        return loc

    def _read_stored(self, pack_id: bytes, entry: PackEntry, into=None):
        fd = self._fd(pack_id)
        if into is None:
            data = os.pread(fd, entry.length, entry.offset)
            got = len(data)
        else:
            got = os.preadv(fd, [into], entry.offset)
            data = into
        if got != entry.length:
            raise IntegrityError(
                f"chunk {entry.chunk_id.hex()[:12]} in pack {pack_id.hex()[:12]}: truncated "
                f"(read {got} of {entry.length} bytes)"
            )
        return data

    def read_chunk(self, chunk_id: bytes) -> bytes:
        """The verified plaintext of one chunk."""
        pack_id, entry = self._locate(chunk_id)
        data = self._read_stored(pack_id, entry)
        if entry.codec == CODEC_ZSTD:
            data = decompress_chunk(data, entry, pack_id)
        verify_chunk(data, entry, pack_id)
        return data

    def read_chunk_into(self, chunk_id: bytes, dest: memoryview) -> None:
        """Read one chunk straight into `dest` (exactly its raw length), verified."""
        pack_id, entry = self._locate(chunk_id)
        if len(dest) != entry.raw_length:
            raise IntegrityError(f"chunk {chunk_id.hex()[:12]}: length {entry.raw_length}, expected {len(dest)}")
        if entry.codec == CODEC_RAW:
            self._read_stored(pack_id, entry, into=dest)
        else:
            dest[:] = decompress_chunk(self._read_stored(pack_id, entry), entry, pack_id)
        verify_chunk(dest, entry, pack_id)

    def read_chunks_into(self, items: list[tuple[bytes, memoryview]]) -> None:
        """`read_chunk_into` for many chunks; half of them on a second thread.

        Reads (preadv) and checks (BLAKE3) release the GIL, so two threads
        run them side by side; the first error raised is the one reported.
        """
        if len(items) < 4:
            for cid, dest in items:
                self.read_chunk_into(cid, dest)
            return
        from concurrent.futures import ThreadPoolExecutor, wait

        with self._lock:
            if self._lane is None:
                self._lane = ThreadPoolExecutor(1, thread_name_prefix="artrepo-read")
        half = len(items) // 2
        other = self._lane.submit(self._read_many, items[half:])
        try:
            self._read_many(items[:half])
        except BaseException:
            wait([other])
            raise
        other.result()

    def _read_many(self, items: list[tuple[bytes, memoryview]]) -> None:
        for cid, dest in items:
            self.read_chunk_into(cid, dest)

    def open(self, stored: StoredFile) -> "FileReader":
        return FileReader(self, stored)

    def close(self) -> None:
        with self._lock:
            if self._lane is not None:
                self._lane.shutdown()
                self._lane = None
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    # -- inspection (fsck, du) ----------------------------------------------
    def pack_ids(self) -> list[bytes]:
        out = []
        packs = self.root / "packs"
        if packs.is_dir():
            for sub in os.scandir(packs):
                for f in os.scandir(sub.path):
                    if not f.name.startswith("."):
                        out.append(bytes.fromhex(f.name))
        return out

    def read_pack_entries(self, pack_id: bytes) -> list[PackEntry]:
        path = self.pack_path(pack_id)
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(max(0, size - (4 << 20)))
            return decode_header(f.read(), size, pack_id.hex()[:12])


def decompress_chunk(data: bytes, entry: PackEntry, pack_id: bytes) -> bytes:
    # The bound comes from the index, never from the frame header (bombs).
    import zstandard

    try:
        if zstandard.frame_content_size(data) != entry.raw_length:
            raise ValueError("frame size differs from the recorded size")
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=entry.raw_length)
    except (zstandard.ZstdError, ValueError) as exc:
        raise IntegrityError(
            f"chunk {entry.chunk_id.hex()[:12]} in pack {pack_id.hex()[:12]}: cannot decompress ({exc})"
        ) from None


def verify_chunk(data, entry: PackEntry, pack_id: bytes) -> None:
    got = hashing.digest(data)
    if got != entry.chunk_id:
        raise IntegrityError(
            f"chunk {entry.chunk_id.hex()[:12]} in pack {pack_id.hex()[:12]}: hash mismatch "
            f"(got {got.hex()[:12]})"
        )


class FileReader(io.RawIOBase):
    """A seekable, verified binary stream over a stored file."""

    def __init__(self, store: ChunkStore, stored: StoredFile):
        super().__init__()
        self._store = store
        self._chunks = stored.chunks
        self._starts = []
        pos = 0
        for _cid, n in stored.chunks:
            self._starts.append(pos)
            pos += n
        self._size = pos
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def size(self) -> int:
        return self._size

    def readinto(self, b) -> int:
        dest = memoryview(b).cast("B")
        done = 0
        whole: list[tuple[bytes, memoryview]] = []  # chunks that land entirely in `dest`
        while done < len(dest) and self._pos < self._size:
            i = bisect_right(self._starts, self._pos) - 1
            cid, n = self._chunks[i]
            within = self._pos - self._starts[i]
            want = min(n - within, len(dest) - done)
            if within == 0 and want == n:
                whole.append((cid, dest[done:done + n]))
            else:
                if self._cached is None or self._cached[0] != i:
                    self._cached = (i, self._store.read_chunk(cid))
                dest[done:done + want] = self._cached[1][within:within + want]
            done += want
            self._pos += want
        self._store.read_chunks_into(whole)
        return done

    def readall(self) -> bytes:
        out = bytearray(self._size - self._pos)
        self.readinto(out)
        return bytes(out)
