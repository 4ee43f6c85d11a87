"""Writing chunks: bytes -> Chunker -> BLAKE3 id -> skip if stored -> zstd if it
shrinks the chunk -> pack buffer -> pack file written by a background thread
(temp, fsync, rename) -> index file once the session's packs are durable.
"""
from __future__ import annotations

import io
import os
from collections import deque
from typing import TYPE_CHECKING

from artrepo.atomic import sync_filesystem, write_atomic
from artrepo.storage import hashing
from artrepo.storage.chunking import MAX_SIZE, Chunker
from artrepo.storage.chunkstore import PACK_TARGET, ChunkStore, StoredFile
from artrepo.storage.packfile import CODEC_RAW, CODEC_ZSTD, PackEntry, encode_header

if TYPE_CHECKING:  # zstandard and the thread pools load on first use: `artrepo log` needs neither
    from concurrent.futures import Future

PACK_CAPACITY = PACK_TARGET + MAX_SIZE  # a pack buffer never grows past this
MAX_PENDING_PACKS = 3
ZSTD_LEVEL = 1


class ChunkEncoder:
    """zstd when it pays: after repeated misses, try only now and then."""

    def __init__(self) -> None:
        import zstandard

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
    unreferenced packs, which `gc` removes. Chunks are hashed and compressed
    on two threads (BLAKE3 and zstd release the GIL), copied into a reused
    pack buffer (fresh memory is slow on these VMs), and packs are written
    and fsynced by a third thread.
    """

    def __init__(self, store: ChunkStore):
        from concurrent.futures import ThreadPoolExecutor

        self.store = store
        self._buf = bytearray(PACK_CAPACITY)
        self._fill = 0
        self._spare: list[bytearray] = []  # buffers the pack thread is done with
        self._entries: list[PackEntry] = []
        self._new: set[bytes] = set()
        self._packs: dict[bytes, list[PackEntry]] = {}
        self._io = ThreadPoolExecutor(2, thread_name_prefix="artrepo-pack")
        self._lane = ThreadPoolExecutor(1, thread_name_prefix="artrepo-hash")
        self._pending: deque[Future] = deque()
        self.stored_bytes = 0
        self.new_raw_bytes = 0

    def writer(self, path: str, *, executable: bool = False) -> "FileWriter":
        return FileWriter(self, path, executable)

    def _known(self, cid: bytes) -> bool:
        return cid in self._new or cid in self.store.index.locations

    def put_chunk(self, data: memoryview, encoder: ChunkEncoder) -> bytes:
        cid = hashing.digest(data)
        if not self._known(cid):
            codec, stored = encoder.encode(data)
            self._append(cid, codec, stored, len(data))
        return cid

    def put_chunks(self, views: list[memoryview], encoders: tuple[ChunkEncoder, ChunkEncoder]) -> list[bytes]:
        """Store consecutive chunks: half are hashed (and compressed) on a second thread."""
        if len(views) < 4:
            return [self.put_chunk(v, encoders[0]) for v in views]
        from concurrent.futures import wait

        half = len(views) // 2
        other = self._lane.submit(self._prepare, views[half:], encoders[1])
        try:
            mine = self._prepare(views[:half], encoders[0])
        except BaseException:
            wait([other])
            raise
        prepared = mine + other.result()
        for view, (cid, codec, stored) in zip(views, prepared):
            if stored is not None and not self._known(cid):  # a batch may repeat a chunk
                self._append(cid, codec, stored, len(view))
        return [cid for cid, _, _ in prepared]

    def _prepare(self, views: list[memoryview], encoder: ChunkEncoder) -> list:
        out = []
        for view in views:
            cid = hashing.digest(view)
            out.append((cid, None, None) if self._known(cid) else (cid, *encoder.encode(view)))
        return out

    def _append(self, cid: bytes, codec: int, stored, raw_length: int) -> None:
        n = len(stored)
        if self._fill + n > len(self._buf):
            self._seal_pack()
            if n > len(self._buf):
                self._buf = bytearray(n)
        self._buf[self._fill:self._fill + n] = stored
        self._entries.append(PackEntry(cid, codec, self._fill, n, raw_length))
        self._fill += n
        self._new.add(cid)
        self.stored_bytes += n
        self.new_raw_bytes += raw_length
        if self._fill >= PACK_TARGET:
            self._seal_pack()

    def _seal_pack(self) -> None:
        if not self._entries:
            return
        header = encode_header(self._entries)
        pack_id = hashing.digest(header)  # names every chunk id: a Merkle root
        self._packs[pack_id] = self._entries
        while len(self._pending) >= MAX_PENDING_PACKS:
            self._pending.popleft().result()
        self._pending.append(self._io.submit(self._write_pack, pack_id, self._buf, self._fill, header))
        self._buf = self._spare.pop() if self._spare else bytearray(PACK_CAPACITY)
        self._fill, self._entries = 0, []

    def _write_pack(self, pack_id: bytes, buf: bytearray, fill: int, header: bytes) -> None:
        try:
            path = self.store.pack_path(pack_id)
            if not path.exists():
                # fsynced here; the renames become durable in commit()'s one sync
                write_atomic(path, [memoryview(buf)[:fill], header], sync_dir=False)
            else:
                os.utime(path)  # it is needed again: restart its gc grace period
        finally:
            if len(buf) == PACK_CAPACITY:
                self._spare.append(buf)

    def commit(self) -> None:
        """Make every chunk written so far durable and indexed."""
        self._seal_pack()
        while self._pending:
            self._pending.popleft().result()
        self._io.shutdown()
        self._lane.shutdown()
        self._spare.clear()
        if self._packs:
            # Packs (data and names) durable before the index that names them.
            sync_filesystem(self.store.root)
            self.store.index.write(self._packs)

    def abort(self) -> None:
        self._io.shutdown(wait=True, cancel_futures=True)
        self._lane.shutdown(wait=True, cancel_futures=True)


class FileWriter(io.RawIOBase):
    """A writable binary stream whose bytes go straight into the store."""

    def __init__(self, session: WriteSession, path: str, executable: bool):
        super().__init__()
        self._session = session
        self._encoders = (ChunkEncoder(), ChunkEncoder())
        self._chunks: list[tuple[bytes, int]] = []
        self._size = 0
        self._chunker = Chunker(emit_many=self._emit_many)
        self.path = path
        self.executable = executable
        self.result: StoredFile | None = None

    def _emit_many(self, views: list[memoryview]) -> None:
        ids = self._session.put_chunks(views, self._encoders)
        self._chunks.extend(zip(ids, map(len, views)))

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
