"""Git pack files (pack v2, idx v2) read in pure Python, as git reads them (written: packwriter.py).

    pack = GitPack(objects_dir / "pack" / "pack-<sha>.idx")
    pack.read(pack.find(raw_oid))      # (type, body), deltas applied

Reading maps the `.idx` and searches it (fanout table, then a binary search
over the sorted ids), inflates the object from the `.pack` and applies
OFS_DELTA/REF_DELTA chains, as git does: a fully cached run or `artrepo show`
reads packed objects without importing pygit2.
"""
from __future__ import annotations

import mmap
import re
import struct
import zlib
from pathlib import Path

from artrepo.atomic import read_or_map

IDX_MAGIC = b"\xfftOc"
TYPES = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
CODES = {v: k for k, v in TYPES.items()}
OFS_DELTA, REF_DELTA = 6, 7
_ID20 = re.compile(rb".{20}", re.S)  # an object id of the names table
_BASES_MAX = 256  # delta bases kept per pack (recent versions share bases)


class PackError(Exception):
    """A pack or its index is malformed (the caller turns it into an IntegrityError)."""


MAPPED_MIN = 1 << 20  # smaller pack and index files are read into memory (atomic.read_or_map)


class GitPack:
    """One pack: its mapped `.idx` and `.pack`."""

    def __init__(self, idx_path: Path):
        self.idx_path = Path(idx_path)
        self.pack_path = self.idx_path.with_suffix(".pack")
        idx = read_or_map(self.idx_path, MAPPED_MIN)
        if len(idx) < 8 + 1024 + 40 or idx[:4] != IDX_MAGIC or struct.unpack_from(">I", idx, 4)[0] != 2:
            raise PackError(f"{self.idx_path.name}: not a version 2 pack index")
        self.fanout = struct.unpack_from(">256I", idx, 8)
        self.count = self.fanout[255]
        self._names = 8 + 1024
        self._crcs = self._names + 20 * self.count
        self._offsets = self._crcs + 4 * self.count
        self._large = self._offsets + 4 * self.count
        if len(idx) < self._large + 40:
            raise PackError(f"{self.idx_path.name}: truncated")
        self.idx = idx
        self._pack = None
        self._bases: dict[int, tuple[int, bytes]] = {}

    @property
    def pack(self):
        if self._pack is None:
            self._pack = read_or_map(self.pack_path, MAPPED_MIN)
            if self._pack[:4] != b"PACK":
                raise PackError(f"{self.pack_path.name}: not a pack")
        return self._pack

    def name(self, i: int) -> bytes:
        return self.idx[self._names + 20 * i:self._names + 20 * i + 20]

    def offset(self, i: int) -> int:
        (off,) = struct.unpack_from(">I", self.idx, self._offsets + 4 * i)
        if off & 0x80000000:
            (off,) = struct.unpack_from(">Q", self.idx, self._large + 8 * (off & 0x7FFFFFFF))
        return off

    def names(self) -> set[bytes]:
        """Every object id this pack holds (20 bytes each)."""
        return set(_ID20.findall(self.idx, self._names, self._names + 20 * self.count))  # split in C

    def crc(self, i: int) -> int:
        return struct.unpack_from(">I", self.idx, self._crcs + 4 * i)[0]

    def _position(self, raw: bytes) -> int:
        """Index of the first id >= raw."""
        first = raw[0]
        lo, hi = (self.fanout[first - 1] if first else 0), self.fanout[first]
        idx, base = self.idx, self._names
        while lo < hi:
            mid = (lo + hi) // 2
            if idx[base + 20 * mid:base + 20 * mid + 20] < raw:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def find(self, raw: bytes) -> int | None:
        """The offset of the object with this 20-byte id, or None."""
        if self.fanout[raw[0]] == (self.fanout[raw[0] - 1] if raw[0] else 0):  # no id starts with that byte
            return None  # (most lookups in a run's small pack)
        i = self._position(raw)
        return self.offset(i) if i < self.count and self.name(i) == raw else None

    def with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        """Hex ids starting with `prefix` (at most `limit`)."""
        low = bytes.fromhex((prefix + "0" * 40)[:40])
        out, i = [], self._position(low)
        while i < self.count and len(out) < limit:
            hexid = self.name(i).hex()
            if not hexid.startswith(prefix):
                break
            out.append(hexid)
            i += 1
        return out

    # -- objects ----------------------------------------------------------------------
    def _header(self, offset: int) -> tuple[int, int, int]:
        """(type code, size, data offset) of the entry at `offset`."""
        return entry_at(self.pack, offset)

    def _inflate(self, pos: int, size: int) -> bytes:
        try:
            return inflate_at(self.pack, pos, size)[0]
        except PackError as exc:
            raise PackError(f"{self.pack_path.name}: {exc}") from None

    def read(self, offset: int, resolve_ref=None) -> tuple[str, bytes]:
        """(type, body) of the entry at `offset`; `resolve_ref(raw id)` gives REF_DELTA bases from elsewhere."""
        deltas = []
        while True:
            cached = self._bases.get(offset)
            if cached is not None:
                kind, body = cached
                break
            kind, size, pos = self._header(offset)
            if kind == OFS_DELTA:
                back, pos = ofs_back(self.pack, pos)
                deltas.append((offset, self._inflate(pos, size)))
                offset -= back
            elif kind == REF_DELTA:
                base = bytes(self.pack[pos:pos + 20])
                deltas.append((offset, self._inflate(pos + 20, size)))
                found = self.find(base)
                if found is not None:
                    offset = found
                    continue
                if resolve_ref is None:
                    raise PackError(f"{self.pack_path.name}: delta base {base.hex()[:12]} is not in this pack")
                name, body = resolve_ref(base)
                kind = CODES[name]
                break
            elif kind in TYPES:
                body = self._inflate(pos, size)
                break
            else:
                raise PackError(f"{self.pack_path.name}: unknown object type {kind} at {offset}")
        for at, delta in reversed(deltas):
            body = apply_delta(body, delta)
            if len(self._bases) >= _BASES_MAX:
                self._bases.clear()
            self._bases[at] = (kind, body)
        return TYPES[kind], body

    def raw_entries(self):
        """(id, type code, entry bytes, crc) of every entry in pack order (entries are contiguous)."""
        order = sorted((self.offset(i), i) for i in range(self.count))
        end = len(self.pack) - 20
        for k, (off, i) in enumerate(order):
            stop = order[k + 1][0] if k + 1 < len(order) else end
            yield self.name(i), self._header(off)[0], off, stop, self.crc(i)

    def close(self) -> None:
        for m in (self.idx, self._pack):
            if isinstance(m, mmap.mmap):
                m.close()


def entry_at(buf, offset: int) -> tuple[int, int, int]:
    """(type code, size, data offset) of the pack entry at `offset` of `buf` (a pack's bytes)."""
    c = buf[offset]
    kind, size, shift, pos = (c >> 4) & 7, c & 15, 4, offset + 1
    while c & 0x80:
        c = buf[pos]
        pos += 1
        size |= (c & 0x7F) << shift
        shift += 7
    return kind, size, pos


def ofs_back(buf, pos: int) -> tuple[int, int]:
    """(how far back the base is, data offset) of an OFS_DELTA entry whose header ends at `pos`."""
    c = buf[pos]
    pos += 1
    back = c & 0x7F
    while c & 0x80:
        c = buf[pos]
        pos += 1
        back = ((back + 1) << 7) | (c & 0x7F)
    return back, pos


def inflate_at(buf, pos: int, size: int) -> tuple[bytes, int]:
    """(the `size` bytes the zlib stream at `pos` inflates to, the offset after the stream)."""
    # A zlib stream of `size` bytes is never longer than this (stored blocks: 5 bytes per
    # 64 KiB, header and checksum): one slice, one call, whatever follows it is ignored.
    # The output is bounded by the size the header gives (a stream that says more is an error).
    stream = buf[pos:pos + size + 5 * (size // 16384 + 1) + 64]
    d = zlib.decompressobj()
    try:
        body = d.decompress(stream, size + 1)
    except zlib.error as exc:
        raise PackError(f"object at {pos} does not inflate ({exc})") from None
    if len(body) != size or not d.eof:
        raise PackError(f"object of {len(body)} bytes, its header says {size}")
    return body, pos + len(stream) - len(d.unused_data)


def apply_delta(base: bytes, delta: bytes, limit: int | None = None) -> bytes:
    """git's delta format: source size, target size, then copy (from base) and insert instructions.
    A target larger than `limit` is a PackError (before it is built)."""
    def varint(pos):
        value = shift = 0
        while True:
            c = delta[pos]
            pos += 1
            value |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return value, pos

    src_size, pos = varint(0)
    dst_size, pos = varint(pos)
    if src_size != len(base):
        raise PackError("delta does not apply to its base (size differs)")
    if limit is not None and dst_size > limit:
        raise PackError(f"delta result of {dst_size} bytes is over {limit}")
    out = bytearray()
    n = len(delta)
    while pos < n:
        c = delta[pos]
        pos += 1
        if c & 0x80:
            off = size = 0
            for i in range(4):
                if c & (1 << i):
                    off |= delta[pos] << (8 * i)
                    pos += 1
            for i in range(3):
                if c & (0x10 << i):
                    size |= delta[pos] << (8 * i)
                    pos += 1
            out += base[off:off + (size or 0x10000)]
        elif c:
            out += delta[pos:pos + c]
            pos += c
        else:
            raise PackError("delta holds a reserved instruction")
    if len(out) != dst_size:
        raise PackError("delta result has the wrong size")
    return bytes(out)


def deflate(data: bytes) -> bytes:
    """An object's zlib stream, level 1 with a small hash table: zlib's default
    state (~270 KB) is fresh memory at every call, ~60 µs; this one 5 µs."""
    stream = zlib.compressobj(1, zlib.DEFLATED, 15, 4)
    return stream.compress(data) + stream.flush()
