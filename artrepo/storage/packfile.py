"""Pack byte layout (format v1), pure functions over bytes.

    pack   := blob* header header_len trailer
    blob   := one stored chunk (raw bytes or one zstd frame)
    header := msgpack array of [chunk_id(bin 32), codec(int), length(int), raw_length(int)]
    header_len := u32 little-endian, the length of `header`
    trailer := b"ARPACK01"

Blobs follow each other with no gaps, so offsets are the running sum of
lengths. The header at the end makes a pack self-describing: the index can be
rebuilt from the packs alone. A pack's id is the BLAKE3 of the whole file.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import msgpack

from artrepo.errors import IntegrityError

TRAILER = b"ARPACK01"
CODEC_RAW = 0
CODEC_ZSTD = 1
_TAIL = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class PackEntry:
    chunk_id: bytes
    codec: int
    offset: int
    length: int
    raw_length: int


def encode_header(entries: list[PackEntry]) -> bytes:
    header = msgpack.packb([[e.chunk_id, e.codec, e.length, e.raw_length] for e in entries])
    return header + _TAIL.pack(len(header)) + TRAILER


def decode_header(tail: bytes, pack_size: int, name: str) -> list[PackEntry]:
    """Parse the entries from the last bytes of a pack (`tail` ends the file)."""
    if len(tail) < 12 or tail[-8:] != TRAILER:
        raise IntegrityError(f"pack {name}: missing trailer (truncated or not a pack)")
    (hlen,) = _TAIL.unpack(tail[-12:-8])
    if hlen + 12 > len(tail) or hlen + 12 > pack_size:
        raise IntegrityError(f"pack {name}: header length {hlen} does not fit the file")
    try:
        rows = msgpack.unpackb(tail[-12 - hlen:-12], max_bin_len=64, max_array_len=1 << 22)
    except Exception as exc:
        raise IntegrityError(f"pack {name}: unreadable header ({exc})") from None
    entries, offset = [], 0
    for cid, codec, length, raw_length in rows:
        entries.append(PackEntry(bytes(cid), codec, offset, length, raw_length))
        offset += length
    if offset + hlen + 12 != pack_size:
        raise IntegrityError(f"pack {name}: blobs and header do not add up to the file size")
    return entries
