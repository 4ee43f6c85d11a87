"""Writing chunks: bytes -> Chunker -> BLAKE3 id -> skip if stored -> zstd if it
shrinks the chunk -> pack (the caller's memory or a pack buffer) -> pack file
written by a background thread (temp, fsync, rename) -> index file once the
session's packs are durable.
"""
from __future__ import annotations

import io
import threading
from collections import deque
from typing import TYPE_CHECKING

from artrepo.storage.chunking import MAX_SIZE, Chunker
from artrepo.storedfile import StoredFile
from artrepo.storage.ids import PackId, chunk_id, pack_id
from artrepo.storage.packfile import CODEC_RAW, CODEC_ZSTD, MAX_PACK_ENTRIES, PACK_TARGET, PackEntry, encode_footer

if TYPE_CHECKING:  # zstandard and the thread pools load on first use: `artrepo log` needs neither
    from concurrent.futures import Future

PACK_CAPACITY = PACK_TARGET + MAX_SIZE  # a pack buffer never grows past this
MAX_PENDING_PACKS = 3
MAX_QUEUED_BATCHES = 4  # batches cut ahead of the hashing thread
ZSTD_LEVEL = 1
INLINE_BYTES = 1 << 20  # work this small is done in the caller's thread until a larger write starts the threads


_per_thread = threading.local()


def _zstd():
    """This thread's compressor (one is not safe to share between threads; making one costs ~25 µs,
    more than compressing a small file)."""
    compressor = getattr(_per_thread, "zstd", None)
    if compressor is None:
        import zstandard

        compressor = _per_thread.zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return compressor


class ChunkEncoder:
    """zstd when it pays: after repeated misses, try only now and then."""

    def __init__(self) -> None:
        self._misses = 0
        self._skip = 0

    def encode(self, data: memoryview):
        if self._skip:
            self._skip -= 1
            return CODEC_RAW, data
        packed = _zstd().compress(data)
        if len(packed) * 10 <= len(data) * 9:
            self._misses = 0
            return CODEC_ZSTD, packed
        self._misses += 1
        if self._misses >= 2:
            self._skip = min(64, 1 << self._misses)
        return CODEC_RAW, data


class _Pack:
    """A pack being filled. `parts` are its blobs in file order: (start, length) spans of
    `buf` (bytes it owns, copied in), zstd frames, or views of the caller's memory
    (`borrowed`: valid only until the caller's write returns). `buf` is made on
    first use and grows to PACK_CAPACITY: a save of a few bytes allocates little."""

    def __init__(self, buf: bytearray | None = None):
        self.buf = buf
        self.fill = 0  # bytes of buf in use
        self.size = 0  # bytes of blobs
        self.parts: list = []
        self.entries: list[PackEntry] = []
        self.borrowed: list[int] = []  # indexes into parts

    def _copy_in(self, data) -> tuple[int, int]:
        n, start = len(data), self.fill
        if self.buf is None or len(self.buf) < start + n:
            grown = bytearray(min(PACK_CAPACITY, max(start + n, 2 * len(self.buf or b""), 4096)))
            if start:
                grown[:start] = self.buf[:start]
            self.buf = grown
        self.buf[start:start + n] = data
        self.fill += n
        return start, n

    def add(self, cid: bytes, codec: int, data, raw_length: int, *, copy: bool, borrowed: bool) -> None:
        """Append a blob: copied into `buf`, kept as a view of the caller's memory, or kept as is (our own bytes)."""
        n = len(data)
        if copy:
            data = self._copy_in(data)
        elif borrowed:
            self.borrowed.append(len(self.parts))
        self.parts.append(data)
        self.entries.append(PackEntry(cid, codec, self.size, n, raw_length))
        self.size += n

    def detach(self) -> None:
        """Copy borrowed blobs into our own buffer (it has room: size < PACK_TARGET)."""
        for i in self.borrowed:
            self.parts[i] = self._copy_in(self.parts[i])
        self.borrowed.clear()

    def views(self) -> list:
        """The blobs as buffers, in file order (`buf` no longer grows once they are taken)."""
        whole = memoryview(self.buf) if self.buf is not None else None
        return [whole[p[0]:p[0] + p[1]] if isinstance(p, tuple) else p for p in self.parts]


class WriteSession:
    """Chunks written for one save; durable once `commit()` returns.

    Nothing a session writes is referenced until its caller records a
    manifest naming the chunks, after `commit()`: a crash leaves at worst
    unreferenced packs, which `gc` removes. Three stages overlap: the
    caller's thread cuts chunks (pyfastcdc), a hashing thread names them
    (BLAKE3), compresses those zstd shrinks and lays them out in packs, and
    two writer threads write and fsync the packs. Chunks of a large write are
    written straight from the caller's memory (no copy) and the caller's
    `write` returns only once nothing refers to that memory any more; the
    rest is copied into reused pack buffers (fresh memory is slow on these VMs).
    """

    def __init__(self, store):  # a ChunkStore (which imports this module)
        self.store = store
        self._spare: list[bytearray] = []  # buffers the writer threads are done with
        self._pack = _Pack()
        self._new: set[bytes] = set()
        self._packs: dict[bytes, list[PackEntry]] = {}
        self._pools: dict[str, object] = {}  # the hashing and writing threads, started by the first large write
        self._pending: deque[Future] = deque()  # pack writes, oldest first
        self._borrowing: list[Future] = []  # pack writes that read the caller's memory
        self.index_file: str | None = None  # the index file commit() wrote

    def writer(self, path: str, *, executable: bool = False) -> "FileWriter":
        return FileWriter(self, path, executable)

    def _pool(self, name: str, workers: int):
        pool = self._pools.get(name)
        if pool is None:
            from concurrent.futures import ThreadPoolExecutor

            pool = self._pools[name] = ThreadPoolExecutor(workers, thread_name_prefix=f"artrepo-{name}")
        return pool

    def _on_hasher(self, fn, *args, size: int = 0):
        """Run `fn` on the hashing thread, or here when no thread runs yet and the work is small
        (a save of a few bytes starts no thread); a future-like object either way."""
        if "hash" not in self._pools and size < INLINE_BYTES:
            return _Done(fn(*args))
        return self._pool("hash", 1).submit(fn, *args)

    def put_chunks(self, views: list[memoryview], encoder: ChunkEncoder, *, borrowed: bool) -> "Future[list[bytes]]":
        """Store consecutive chunks on the hashing thread; the future gives their ids.

        Views that are not `borrowed` must stay valid until the future is done;
        borrowed ones until `release()` returns.
        """
        return self._on_hasher(self._store, views, encoder, borrowed, size=sum(len(v) for v in views))

    def _store(self, views: list[memoryview], encoder: ChunkEncoder, borrowed: bool) -> list[bytes]:
        ids = []
        known = self.store.index.lookup
        for view in views:
            cid = chunk_id(view)
            ids.append(cid)
            if cid in self._new or known(cid) is not None:
                continue
            codec, stored = encoder.encode(view)
            raw = codec == CODEC_RAW
            self._pack.add(cid, codec, stored, len(view), copy=raw and not borrowed, borrowed=raw and borrowed)
            self._new.add(cid)
            if self._pack.size >= PACK_TARGET or len(self._pack.entries) >= MAX_PACK_ENTRIES:
                self._seal_pack()
        return ids

    def _seal_pack(self) -> None:
        pack = self._pack
        if not pack.entries:
            return
        footer = encode_footer(pack.entries)
        pid = pack_id(footer)  # names every chunk id: a Merkle root
        self._packs[pid] = pack.entries
        while len(self._pending) >= MAX_PENDING_PACKS:
            self._pending.popleft().result()
        if "pack" not in self._pools and pack.size < INLINE_BYTES and not pack.borrowed:
            future = _Done(self._write_pack(pid, pack, footer))
        else:
            future = self._pool("pack", 2).submit(self._write_pack, pid, pack, footer)
        self._pending.append(future)
        if pack.borrowed:
            self._borrowing.append(future)
        self._pack = _Pack(self._spare.pop() if self._spare else None)

    def _write_pack(self, pid: PackId, pack: _Pack, footer: bytes) -> None:
        try:
            self.store.write_pack(pid, [*pack.views(), footer])
        finally:
            pack.parts.clear()
            if pack.buf is not None and len(pack.buf) == PACK_CAPACITY:
                self._spare.append(pack.buf)

    def release(self) -> None:
        """Return once no work refers to borrowed memory, even after an error
        (errors surface from the `put_chunks` futures and from `commit`)."""
        self._on_hasher(lambda: self._pack.detach()).result()  # after every queued batch
        if self._borrowing:
            from concurrent.futures import wait

            wait(self._borrowing)
            self._borrowing.clear()

    def commit(self) -> None:
        """Make every chunk written so far durable and indexed."""
        self._on_hasher(self._seal_pack).result()
        while self._pending:
            self._pending.popleft().result()
        self._stop_threads()
        self._spare.clear()
        self.index_file = self.store.publish(self._packs)

    def abort(self) -> None:
        """Give up: queued work is dropped; packs already written are left for gc."""
        self._stop_threads()

    def _stop_threads(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)


class _Done:
    """The result of work done on the spot, with the `result()` of a finished future."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def done(self) -> bool:
        return True


class FileWriter(io.RawIOBase):
    """A writable binary stream whose bytes go straight into the store."""

    def __init__(self, session: WriteSession, path: str, executable: bool):
        super().__init__()
        self._session = session
        self._encoder = ChunkEncoder()
        self._chunks: list[tuple[bytes, int]] = []
        self._queued: deque[tuple[Future, list[int]]] = deque()  # batches on the hashing thread
        self._size = 0
        self._borrowed = False  # this write handed out views of the caller's memory
        self._chunker = Chunker(emit_many=self._emit_many)
        self.path = path
        self.executable = executable
        self.result: StoredFile | None = None

    def _emit_many(self, views: list[memoryview], borrowed: bool) -> None:
        self._borrowed |= borrowed
        self._queued.append((self._session.put_chunks(views, self._encoder, borrowed=borrowed),
                             [len(v) for v in views]))
        # The chunker's own window is reused after this call: wait for its batch.
        self._collect(keep=MAX_QUEUED_BATCHES if borrowed else 0)

    def _collect(self, keep: int = 0) -> None:
        while len(self._queued) > keep:
            future, lengths = self._queued.popleft()
            self._chunks.extend(zip(future.result(), lengths))

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._borrowed = False
        try:
            n = self._chunker.write(data)
            self._collect()
        finally:
            if self._borrowed:
                self._session.release()  # nothing refers to `data` after this
        self._size += n
        return n

    def close(self) -> None:
        if self.result is None and not self.closed:
            self._chunker.close()
            self._collect()
            self.result = StoredFile(self.path, self._size, tuple(self._chunks), self.executable)
        super().close()
