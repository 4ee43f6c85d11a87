"""What names each stored object: one definition of each id (docs/format.md §1, §5, §6).

    chunk id    BLAKE3-256 of the chunk's plaintext bytes
    pack id     BLAKE3-256 of the pack's footer: header || header_len || "ARPACK01",
                everything after the last blob (the header names every chunk id,
                codec and length: a Merkle root of the pack)
    file name   hex of the BLAKE3-256 of a file's bytes: index files, and a remote's
                git packs and base ref tables

Ids are raw 32-byte digests; `ChunkId` and `PackId` type them where they
cross modules (NewType: no cost at run time). Version ids are git commit
ids (gitdb); the content hash is defined with the manifest (records).
"""
from __future__ import annotations

from typing import NewType

from artrepo.storage.hashing import digest

ChunkId = NewType("ChunkId", bytes)
PackId = NewType("PackId", bytes)


def chunk_id(plaintext) -> ChunkId:
    return ChunkId(digest(plaintext))


def pack_id(footer: bytes) -> PackId:
    return PackId(digest(footer))


def file_name(data: bytes) -> str:
    return digest(data).hex()


def short(raw: bytes) -> str:
    """The first 12 hex digits, for messages."""
    return raw.hex()[:12]
