"""Index files of format 2: chunk locations sorted by chunk id, searched in place (docs/format.md §6).

    data = encode_sorted({pack_id: entries, ...})
    found = SortedIndex(data).get(chunk_id)       # (pack id, PackEntry) or None

A repository's merged index (written by repacks and gc) names every chunk,
and a process that reads one chunk must not decode 100,000 entries first: a
format 2 file is fixed-width records sorted by chunk id behind a fanout
table, so a lookup is a binary search over the mapped file, like git's pack
`.idx`. Layout (integers little-endian):

    magic    "ARIDX\\0\\2\\0"   8 bytes (a format 1 file is a msgpack map: never this)
    npacks   u32, nchunks u32
    fanout   256 x u32: entries whose chunk id's first byte is <= i
    packs    npacks x 32 bytes: pack ids, sorted
    entries  nchunks x 49 bytes, sorted by chunk id:
             chunk id (32) | pack number u32 | offset u32 | length u32 | raw length u32 | codec u8

Each pack's entries are all listed (a chunk held by two packs is listed
twice), so a pack's footer, hence its id, follows from its entries sorted by
offset, as with format 1.
"""
from __future__ import annotations

import struct
from itertools import accumulate, groupby
from operator import itemgetter

from artrepo.storage.ids import ChunkId, PackId
from artrepo.storage.packfile import PackEntry

MAGIC = b"ARIDX\x00\x02\x00"
_HEAD = struct.Struct("<8sII")
_FANOUT = struct.Struct("<256I")
_ROW = struct.Struct("<32sIIIIB")
_CID, _PACK, _OFFSET, _LENGTH, _RAW, _CODEC = range(6)  # the fields of a record (`_ROW`)
_TAIL = struct.Struct("<IIIIB")
_START = _HEAD.size + _FANOUT.size


def is_sorted_index(data) -> bool:
    return data[:8] == MAGIC


def encode_sorted(packs: dict[PackId, list[PackEntry]]) -> bytes:
    pack_ids = sorted(packs)
    number = {pid: i for i, pid in enumerate(pack_ids)}
    rows = sorted((e.chunk_id, number[pid], e.offset, e.length, e.raw_length, e.codec)
                  for pid, entries in packs.items() for e in entries)
    counts = [0] * 256
    for row in rows:
        counts[row[_CID][0]] += 1
    fanout = accumulate(counts)  # entries whose chunk id's first byte is <= i
    return b"".join([_HEAD.pack(MAGIC, len(pack_ids), len(rows)), _FANOUT.pack(*fanout), *pack_ids,
                     *(_ROW.pack(*row) for row in rows)])


class SortedIndex:
    """A format 2 index file (bytes or a read-only mapping), searched without decoding it."""

    def __init__(self, data, name: str = "?"):
        if len(data) < _START or not is_sorted_index(data):
            raise ValueError("not a format 2 index")
        _magic, self.npacks, self.count = _HEAD.unpack_from(data, 0)
        self.fanout = _FANOUT.unpack_from(data, _HEAD.size)
        self._rows = _START + 32 * self.npacks
        if len(data) != self._rows + _ROW.size * self.count or self.fanout[255] != self.count:
            raise ValueError("its size does not match its header")
        self.data = data
        self.pack_ids = [PackId(bytes(data[_START + 32 * i:_START + 32 * i + 32])) for i in range(self.npacks)]

    def get(self, cid: bytes) -> tuple[PackId, PackEntry] | None:
        first = cid[0]
        lo, hi = (self.fanout[first - 1] if first else 0), self.fanout[first]
        data, base, size = self.data, self._rows, _ROW.size
        while lo < hi:
            mid = (lo + hi) // 2
            at = base + size * mid
            if data[at:at + 32] < cid:
                lo = mid + 1
            else:
                hi = mid
        at = base + size * lo
        if lo == self.count or data[at:at + 32] != cid:
            return None
        pack, offset, length, raw_length, codec = _TAIL.unpack_from(data, at + 32)
        if pack >= self.npacks:
            raise ValueError(f"entry names pack {pack} of {self.npacks}")
        return self.pack_ids[pack], PackEntry(ChunkId(bytes(cid)), codec, offset, length, raw_length)

    def __contains__(self, cid: bytes) -> bool:
        return self.get(cid) is not None

    def rows(self) -> dict[PackId, list[tuple]]:
        """Every pack's entries in pack order, each a tuple in `PackEntry`'s field order (decodes the whole
        file without making an object per row: fsck compares 100,000 of them with the packs' footers)."""
        raw = list(_ROW.iter_unpack(self.data[self._rows:]))
        if raw and (top := max(map(itemgetter(_PACK), raw))) >= self.npacks:
            raise ValueError(f"entry names pack {top} of {self.npacks}")
        raw.sort(key=itemgetter(_OFFSET))  # by offset, then (stable) by pack: equal offsets stay in chunk id order
        raw.sort(key=itemgetter(_PACK))
        out: dict[PackId, list[tuple]] = {pid: [] for pid in self.pack_ids}
        as_entry = itemgetter(_CID, _CODEC, _OFFSET, _LENGTH, _RAW)
        for number, rows in groupby(raw, itemgetter(_PACK)):
            out[self.pack_ids[number]] = list(map(as_entry, rows))
        return out

    def packs(self) -> dict[PackId, list[PackEntry]]:
        """Every pack's entries in pack order (decodes the whole file)."""
        return {pid: [PackEntry(*row) for row in rows] for pid, rows in self.rows().items()}
