"""The files of a payload as the store keeps them: a chunk list each, read back as verified streams."""
from __future__ import annotations

import io
from bisect import bisect_right

from artrepo.storedfile import StoredFile


class FileReader(io.RawIOBase):
    """A seekable, verified binary stream over a stored file of `store` (a ChunkStore)."""

    def __init__(self, store, stored: StoredFile):
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
