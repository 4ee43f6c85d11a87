"""A stored file (docs/format.md §1): one file of an artifact as its chunk list.

The storage writes and reads them, the manifest record lists them: the one
type both speak, below both.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One file of a payload: its relative path, mode, size and chunk list."""

    path: str
    size: int
    chunks: tuple[tuple[bytes, int], ...]  # (chunk id, raw length)
    executable: bool = False
    symlink: str | None = None  # link target text, for a stored symlink
