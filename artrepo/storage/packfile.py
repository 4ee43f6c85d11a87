"""Pack byte layout (format v1) and its checks, pure functions over bytes.

    pack    := blob* footer
    blob    := one stored chunk (raw bytes or one zstd frame)
    footer  := header header_len "ARPACK01"
    header  := msgpack array of [chunk_id(bin 32), codec(int), length(int), raw_length(int)]
    header_len := u32 little-endian, the length of `header`

Blobs follow each other with no gaps, so offsets are the running sum of
lengths. The footer makes a pack self-describing (the index can be rebuilt
from the packs alone), and its BLAKE3 is the pack's id (ids.py).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from operator import itemgetter

import msgpack

from artrepo.errors import IntegrityError
from artrepo.storage.chunking import MAX_SIZE as MAX_CHUNK
from artrepo.storage.ids import ChunkId, PackId, chunk_id, pack_id, short

TRAILER = b"ARPACK01"
CODEC_RAW = 0
CODEC_ZSTD = 1
_TAIL = struct.Struct("<I")
PACK_TARGET = 16 * 1024 * 1024  # writers seal a pack once its blobs reach this
MAX_PACK_ENTRIES = 65536  # ... or once it holds this many chunks (keeps the footer well under MAX_FOOTER)
MAX_FOOTER = 4 << 20  # readers refuse longer footers
MAX_BLOBS = PACK_TARGET + MAX_CHUNK  # blob bytes of a pack (zstd is stored only when it shrinks a chunk)


# the columns of an entry as a row (a tuple or list in `PackEntry`'s field order: index files, `ChunkIndex.rows()`)
CHUNK, CODEC, OFFSET, LENGTH, RAW = range(5)


@dataclass(frozen=True, slots=True)
class PackEntry:
    chunk_id: ChunkId
    codec: int
    offset: int
    length: int
    raw_length: int


def encode_footer(entries: list[PackEntry]) -> bytes:
    return _footer([[e.chunk_id, e.codec, e.length, e.raw_length] for e in entries])


def footer_of_rows(rows: list[tuple]) -> bytes:
    """`encode_footer` of entries given as tuples in `PackEntry`'s field order (no object per entry)."""
    return _footer(list(map(_HEADER_FIELDS, rows)))


_HEADER_FIELDS = itemgetter(CHUNK, CODEC, LENGTH, RAW)


def _footer(header_rows: list) -> bytes:
    header = msgpack.packb(header_rows)
    return header + _TAIL.pack(len(header)) + TRAILER


def id_of(entries: list[PackEntry]) -> PackId:
    """The id of the pack holding exactly `entries`, in order."""
    return pack_id(encode_footer(entries))


def pack_size(entries: list[PackEntry]) -> int:
    """The exact size of the pack that holds exactly these entries."""
    return sum(e.length for e in entries) + len(encode_footer(entries))


def decode_footer(tail: bytes, pack_size: int, name: str) -> list[PackEntry]:
    """Parse the entries from the last bytes of a pack (`tail` ends the file), each row checked (`entry`)."""
    if len(tail) < 12 or tail[-8:] != TRAILER:
        raise IntegrityError(f"pack {name}: missing trailer (truncated or not a pack)")
    (hlen,) = _TAIL.unpack(tail[-12:-8])
    if hlen + 12 > len(tail) or hlen + 12 > pack_size:
        raise IntegrityError(f"pack {name}: header length {hlen} does not fit the file")
    try:
        rows = msgpack.unpackb(tail[-12 - hlen:-12], max_bin_len=64, max_array_len=1 << 22)
    except Exception as exc:
        raise IntegrityError(f"pack {name}: unreadable header ({exc})") from None
    if type(rows) is not list:
        raise IntegrityError(f"pack {name}: its header is not an array of chunk entries")
    entries, offset = [], 0
    for row in rows:
        if type(row) is not list or len(row) != 4:
            raise IntegrityError(f"pack {name}: a header row is not [chunk id, codec, length, raw length]")
        cid, codec, length, raw = row  # a header row has no offset: it is the running sum of lengths
        e = checked_entry(cid, codec, offset, length, raw, f"pack {name}")
        entries.append(e)
        offset += e.length
    if offset + hlen + 12 != pack_size:
        raise IntegrityError(f"pack {name}: blobs and header do not add up to the file size")
    return entries


def checked_entry(cid, codec, offset, length, raw_length, where: str) -> PackEntry:
    """A header or index row as an entry, refused unless a writer of this format could have written it.

    Checked before anything is allocated for the chunk: a 32-byte id, a known
    codec, integers, `raw_length` at most the largest chunk, a raw blob exactly
    its chunk and a zstd blob no longer than it (writers store zstd only when it
    shrinks a chunk), so no blob is longer than MAX_CHUNK either.
    """
    if type(cid) is not bytes or len(cid) != 32:
        raise IntegrityError(f"{where}: a chunk id is not 32 bytes")
    if type(codec) is not int or codec not in (CODEC_RAW, CODEC_ZSTD):
        raise IntegrityError(f"{where}: chunk {_short(cid)} has unknown codec {codec!r}")
    if type(offset) is not int or type(length) is not int or type(raw_length) is not int:
        raise IntegrityError(f"{where}: chunk {_short(cid)} has a non-integer offset or length")
    if not 0 <= raw_length <= MAX_CHUNK:
        raise IntegrityError(f"{where}: chunk {_short(cid)} declares {raw_length} bytes, more than the format's "
                             f"largest chunk ({MAX_CHUNK})")
    if offset < 0 or length < 0 or length > raw_length or (codec == CODEC_RAW and length != raw_length):
        raise IntegrityError(f"{where}: chunk {_short(cid)} has a stored length of {length} for {raw_length} bytes")
    return PackEntry(ChunkId(cid), codec, offset, length, raw_length)


def rows_sound(rows: list) -> bool:
    """Whether `checked_entry` accepts every row (5 fields in `PackEntry`'s order) and their offsets run on from 0
    as a footer's do: its tests inline, without an entry per row (an index may hold millions of rows)."""
    offset = 0
    for row in rows:
        if type(row) is not list and type(row) is not tuple or len(row) != 5:
            return False
        cid, codec, at, length, raw = row
        if not (type(cid) is bytes and len(cid) == 32 and type(codec) is int and type(at) is int
                and type(length) is int and type(raw) is int and at == offset and 0 <= length <= raw <= MAX_CHUNK
                and (codec == CODEC_ZSTD or (codec == CODEC_RAW and length == raw))):
            return False
        offset += length
    return True


def _short(cid: bytes) -> str:
    return short(cid) if type(cid) is bytes else repr(cid)[:16]


def verify_chunk(data, entry: PackEntry, pack: bytes) -> None:
    got = chunk_id(data)
    if got != entry.chunk_id:
        raise IntegrityError(f"chunk {short(entry.chunk_id)} in pack {short(pack)}: hash mismatch (got {short(got)})")


def check_blob(stored, entry: PackEntry, pack: bytes):
    """The chunk the stored bytes of its entry decode to, checked against its id."""
    if entry.codec == CODEC_ZSTD:  # bounded by the index, never by the frame header (bombs)
        import zstandard

        try:
            if zstandard.frame_content_size(stored := bytes(stored)) != entry.raw_length:
                raise ValueError("frame size differs from the recorded size")
            stored = zstandard.ZstdDecompressor().decompress(stored, max_output_size=entry.raw_length)
        except (zstandard.ZstdError, ValueError) as exc:
            raise IntegrityError(f"chunk {short(entry.chunk_id)} in pack {short(pack)}: "
                                 f"cannot decompress ({exc})") from None
    verify_chunk(stored, entry, pack)
    return stored


def verify_footer(pid: bytes, data) -> list[PackEntry]:
    """The entries of a whole pack after checking its footer and its id (not yet its blobs)."""
    name = short(pid)
    entries = decode_footer(data[-MAX_FOOTER:], len(data), name)
    hlen = int.from_bytes(data[-12:-8], "little")
    if pack_id(bytes(data[-12 - hlen:])) != pid:
        raise IntegrityError(f"pack {name}: header does not match the pack id")
    return entries


def verify_pack(pid: bytes, data) -> list[PackEntry]:
    """The entries of a whole pack after checking its id and every chunk; IntegrityError otherwise."""
    entries = verify_footer(pid, data)
    view = memoryview(data)
    for e in entries:
        check_blob(view[e.offset:e.offset + e.length], e, pid)
    return entries
