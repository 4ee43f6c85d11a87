"""ChunkStore: files in as chunk lists, verified bytes out.

Write path: bytes -> Chunker -> BLAKE3 id -> skip if stored -> zstd if it
shrinks the chunk -> pack buffer -> pack file written by a background thread
(temp, fsync, rename) -> index file once the session's packs are durable.
Read path: chunk id -> index -> pread from the pack -> bounded decompress ->
hash check, always.
"""
from __future__ import annotations

import io
import os
import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import zstandard

from artrepo.errors import IntegrityError
from artrepo.storage import hashing
from artrepo.atomic import fsync_dir, write_atomic
from artrepo.storage.chunking import Chunker
from artrepo.storage.index import ChunkIndex
from artrepo.storage.packfile import CODEC_RAW, CODEC_ZSTD, PackEntry, decode_header, encode_header

PACK_TARGET = 16 * 1024 * 1024
MAX_PENDING_PACKS = 2
ZSTD_LEVEL = 1


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
            data = _decompress(data, entry, pack_id)
        _verify(data, entry, pack_id)
        return data

    def read_chunk_into(self, chunk_id: bytes, dest: memoryview) -> None:
        """Read one chunk straight into `dest` (exactly its raw length), verified."""
        pack_id, entry = self._locate(chunk_id)
        if len(dest) != entry.raw_length:
            raise IntegrityError(f"chunk {chunk_id.hex()[:12]}: length {entry.raw_length}, expected {len(dest)}")
        if entry.codec == CODEC_RAW:
            self._read_stored(pack_id, entry, into=dest)
        else:
            dest[:] = _decompress(self._read_stored(pack_id, entry), entry, pack_id)
        _verify(dest, entry, pack_id)

    def open(self, stored: StoredFile) -> "FileReader":
        return FileReader(self, stored)

    def close(self) -> None:
        with self._lock:
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


def _decompress(data: bytes, entry: PackEntry, pack_id: bytes) -> bytes:
    # The bound comes from the index, never from the frame header (bombs).
    try:
        if zstandard.frame_content_size(data) != entry.raw_length:
            raise ValueError("frame size differs from the recorded size")
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=entry.raw_length)
    except (zstandard.ZstdError, ValueError) as exc:
        raise IntegrityError(
            f"chunk {entry.chunk_id.hex()[:12]} in pack {pack_id.hex()[:12]}: cannot decompress ({exc})"
        ) from None


def _verify(data, entry: PackEntry, pack_id: bytes) -> None:
    got = hashing.digest(data)
    if got != entry.chunk_id:
        raise IntegrityError(
            f"chunk {entry.chunk_id.hex()[:12]} in pack {pack_id.hex()[:12]}: hash mismatch "
            f"(got {got.hex()[:12]})"
        )


class ChunkEncoder:
    """zstd when it pays: after repeated misses, try only now and then."""

    def __init__(self) -> None:
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self._misses = 0
        self._skip = 0

    def encode(self, data: memoryview):
        if self._skip:
            self._skip -= 1
            return CODEC_RAW, data
        packed = self._zstd.compress(data)
        if len(packed) * 10 <= len(data) * 9:
            self._misses = 0
            return CODEC_ZSTD, packed
        self._misses += 1
        if self._misses >= 2:
            self._skip = min(64, 1 << self._misses)
        return CODEC_RAW, data


class WriteSession:
    """Chunks written for one save; durable once `commit()` returns.

    Nothing a session writes is referenced until its caller records a
    manifest naming the chunks, after `commit()`: a crash leaves at worst
    unreferenced packs, which `gc` removes.
    """

    def __init__(self, store: ChunkStore):
        self.store = store
        self._buf = bytearray()
        self._entries: list[PackEntry] = []
        self._new: set[bytes] = set()
        self._packs: dict[bytes, list[PackEntry]] = {}
        self._io = ThreadPoolExecutor(1, thread_name_prefix="artrepo-pack")
        self._pending: deque[Future] = deque()
        self.stored_bytes = 0
        self.new_raw_bytes = 0

    def writer(self, path: str, *, executable: bool = False) -> "FileWriter":
        return FileWriter(self, path, executable)

    def put_chunk(self, data: memoryview, encoder: ChunkEncoder) -> bytes:
        cid = hashing.digest(data)
        if cid in self._new or cid in self.store.index.locations:
            return cid
        codec, stored = encoder.encode(data)
        self._entries.append(PackEntry(cid, codec, len(self._buf), len(stored), len(data)))
        self._buf += stored
        self._new.add(cid)
        self.stored_bytes += len(stored)
        self.new_raw_bytes += len(data)
        if len(self._buf) >= PACK_TARGET:
            self._seal_pack()
        return cid

    def _seal_pack(self) -> None:
        if not self._entries:
            return
        header = encode_header(self._entries)
        pack_id = hashing.digest(header)  # names every chunk id: a Merkle root
        self._buf += header
        self._packs[pack_id] = self._entries
        data, self._buf, self._entries = self._buf, bytearray(), []
        while len(self._pending) >= MAX_PENDING_PACKS:
            self._pending.popleft().result()
        self._pending.append(self._io.submit(self._write_pack, pack_id, data))

    def _write_pack(self, pack_id: bytes, data: bytearray) -> None:
        path = self.store.pack_path(pack_id)
        if not path.exists():
            write_atomic(path, data)

    def commit(self) -> None:
        """Make every chunk written so far durable and indexed."""
        self._seal_pack()
        while self._pending:
            self._pending.popleft().result()
        self._io.shutdown()
        if self._packs:
            self.store.index.write(self._packs)
            fsync_dir(self.store.root / "index")

    def abort(self) -> None:
        self._io.shutdown(wait=True, cancel_futures=True)


class FileWriter(io.RawIOBase):
    """A writable binary stream whose bytes go straight into the store."""

    def __init__(self, session: WriteSession, path: str, executable: bool):
        super().__init__()
        self._session = session
        self._encoder = ChunkEncoder()
        self._chunks: list[tuple[bytes, int]] = []
        self._size = 0
        self._chunker = Chunker(self._emit)
        self.path = path
        self.executable = executable
        self.result: StoredFile | None = None

    def _emit(self, view: memoryview) -> None:
        self._chunks.append((self._session.put_chunk(view, self._encoder), len(view)))

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        n = self._chunker.write(data)
        self._size += n
        return n

    def close(self) -> None:
        if self.result is None and not self.closed:
            self._chunker.close()
            self.result = StoredFile(self.path, self._size, tuple(self._chunks), self.executable)
        super().close()


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
        while done < len(dest) and self._pos < self._size:
            i = bisect_right(self._starts, self._pos) - 1
            cid, n = self._chunks[i]
            within = self._pos - self._starts[i]
            want = min(n - within, len(dest) - done)
            if within == 0 and want == n:
                self._store.read_chunk_into(cid, dest[done:done + n])
            else:
                if self._cached is None or self._cached[0] != i:
                    self._cached = (i, self._store.read_chunk(cid))
                dest[done:done + want] = self._cached[1][within:within + want]
            done += want
            self._pos += want
        return done

    def readall(self) -> bytes:
        out = bytearray(self._size - self._pos)
        self.readinto(out)
        return bytes(out)
