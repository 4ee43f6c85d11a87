"""Typed identifiers: a digest with `.hex` and `.short`, never a bare str."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Digest:
    """A 32-byte BLAKE3 digest."""

    raw: bytes

    @property
    def hex(self) -> str:
        return self.raw.hex()

    @property
    def short(self) -> str:
        return self.raw.hex()[:12]

    @classmethod
    def from_hex(cls, text: str):
        return cls(bytes.fromhex(text))

    def __str__(self) -> str:
        return self.hex


class ChunkId(Digest):
    """Hash of a chunk's plaintext bytes."""

    __slots__ = ()


class PackId(Digest):
    """Hash of a whole pack file's bytes."""

    __slots__ = ()


class ContentHash(Digest):
    """Hash of an artifact's stored data alone: equal data, equal hash."""

    __slots__ = ()
