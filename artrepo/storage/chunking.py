"""Content-defined chunking (FastCDC 2020 via pyfastcdc), fixed per format version.

Boundaries depend only on content, so an edit or an insertion in the middle
of a large payload changes only the chunks around it. `Chunker` accepts data
in pieces of any size and yields the same chunks as one call over the whole.
"""
from __future__ import annotations

from collections.abc import Callable

AVG_SIZE = 128 * 1024
MIN_SIZE = 32 * 1024
MAX_SIZE = 512 * 1024
WINDOW = 8 * 1024 * 1024  # bytes gathered before cutting when writes are small
BATCH_BYTES = 8 * 1024 * 1024  # chunks handed to `emit_many` together (hashed while the next batch is cut)


class Chunker:
    """Feed bytes with `write`; `emit_many(views, borrowed)` is called with the chunks, in order, in lists of
    consecutive chunks (about `BATCH_BYTES` each), so the receiver can work on several at once.

    Views passed with `borrowed=False` are valid only during the call (they
    point into the chunker's own window), while `borrowed=True` views point
    into the buffer given to `write` and stay valid until that `write`
    returns: a receiver may finish with them later, as long as it does so
    before then. The last chunk
    of each cut is held back (it may have been cut by the end of the data seen
    so far, not by content) and re-cut together with the next bytes.
    """

    def __init__(self, emit_many: Callable[[list[memoryview], bool], None]):
        from pyfastcdc import FastCDC  # compiled; loaded when a payload is written

        self._cdc = FastCDC(AVG_SIZE, min_size=MIN_SIZE, max_size=MAX_SIZE)
        self._emit_many = emit_many
        self._buf = bytearray(0)  # grows on demand up to WINDOW + MAX_SIZE: small payloads allocate little
        self._fill = 0  # bytes held in _buf

    def _room(self, need: int) -> None:
        """Make `_buf` hold at least `need` bytes (a new buffer: views of the old one may still exist)."""
        if len(self._buf) < need:
            grown = bytearray(min(WINDOW + MAX_SIZE, max(need, 2 * len(self._buf), 4096)))  # a small save: small
            grown[:self._fill] = self._buf[:self._fill]
            self._buf = grown

    def write(self, data) -> int:
        whole = memoryview(data).cast("B")
        n, pos = len(whole), 0
        while pos < n:
            if self._fill or n - pos < WINDOW:
                fill0 = self._fill
                take = min(n - pos, WINDOW - fill0)
                self._room(fill0 + take)
                self._buf[fill0:fill0 + take] = whole[pos:pos + take]
                self._fill += take
                pos += take
                if self._fill < WINDOW:
                    break
                tail = len(self._cut(memoryview(self._buf)[: self._fill], borrowed=False))
                tail_start = self._fill - tail
                if tail_start >= fill0 and pos < n:
                    # The held-back tail came from `data` and more follows:
                    # re-cut it from `data` itself rather than copy it.
                    pos -= self._fill - tail_start
                    self._fill = 0
                else:
                    self._buf[:tail] = self._buf[tail_start:self._fill]
                    self._fill = tail
            else:
                rest = self._cut(whole[pos:], borrowed=True)
                self._room(len(rest))
                self._buf[: len(rest)] = rest
                self._fill = len(rest)
                pos = n
        return n

    def _cut(self, view: memoryview, *, borrowed: bool, final: bool = False) -> memoryview:
        """Emit every chunk of `view` but the last (all if `final`); return what is left."""
        batch, batch_bytes, last = [], 0, None
        for chunk in self._cdc.cut_buf(view):
            if last is not None:
                batch.append(view[last.offset: last.offset + last.length])
                batch_bytes += last.length
                if batch_bytes >= BATCH_BYTES:
                    self._emit_many(batch, borrowed)
                    batch, batch_bytes = [], 0
            last = chunk
        if final and last is not None:
            batch.append(view[last.offset:])
        if batch:
            self._emit_many(batch, borrowed)
        return view[len(view):] if final or last is None else view[last.offset:]

    def close(self) -> None:
        """Emit what is held back: the data has ended."""
        if self._fill:
            self._cut(memoryview(self._buf)[: self._fill], borrowed=False, final=True)
            self._fill = 0
