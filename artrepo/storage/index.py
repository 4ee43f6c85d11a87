"""The chunk index: where each chunk lives (format v1).

An index file is msgpack: `{"v": 1, "packs": {pack_id: [[chunk_id, codec,
offset, length, raw_length], ...]}}`, named by the BLAKE3 of its bytes under
`chunks/index/`. Several index files coexist; their union is the index. They
are written after the packs they name and never changed; `gc` replaces them
by a merged one. Everything here can be rebuilt from the pack headers.
"""
from __future__ import annotations

import os
from pathlib import Path

import msgpack

from artrepo.errors import IntegrityError
from artrepo.storage import hashing
from artrepo.atomic import write_atomic
from artrepo.storage.packfile import PackEntry

INDEX_VERSION = 1


def encode_index(packs: dict[bytes, list[PackEntry]]) -> bytes:
    body = {
        pid: [[e.chunk_id, e.codec, e.offset, e.length, e.raw_length] for e in entries]
        for pid, entries in sorted(packs.items())
    }
    return msgpack.packb({"v": INDEX_VERSION, "packs": body})


def decode_index(data: bytes, name: str) -> dict[bytes, list[PackEntry]]:
    try:
        doc = msgpack.unpackb(data, strict_map_key=False, max_bin_len=64)
        if doc.get("v") != INDEX_VERSION:
            raise ValueError(f"unknown index version {doc.get('v')!r}")
        return {
            bytes(pid): [PackEntry(bytes(r[0]), r[1], r[2], r[3], r[4]) for r in rows]
            for pid, rows in doc["packs"].items()
        }
    except Exception as exc:
        raise IntegrityError(f"index {name}: unreadable ({exc})") from None


class ChunkIndex:
    """Union of the index files in a folder: chunk id -> (pack id, entry)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._loaded: set[str] = set()
        self.damaged: dict[str, str] = {}  # index file name -> what is wrong with it
        self.by_file: dict[str, dict[bytes, list[PackEntry]]] = {}  # what each file says (fsck, gc)
        self.locations: dict[bytes, tuple[bytes, PackEntry]] = {}

    def refresh(self) -> None:
        """Read index files written since the last refresh (by any process)."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return
        if not self._loaded.issubset(names):
            # gc replaced index files: forget entries of packs it may have removed
            self._loaded.clear()
            self.locations.clear()
            self.by_file.clear()
        for name in names:
            if name in self._loaded or name.startswith(".") or name in self.damaged:
                continue
            try:
                data = (self.folder / name).read_bytes()
                if hashing.digest(data).hex() != name:
                    raise IntegrityError(f"index {name[:12]}: content does not match its name")
                packs = decode_index(data, name[:12])
            except (IntegrityError, FileNotFoundError) as exc:
                # One damaged file must not make the repository unusable: its
                # chunks read as missing, fsck reports it, gc rebuilds it.
                self.damaged[name] = str(exc)
                continue
            for pid, entries in packs.items():
                for e in entries:
                    self.locations.setdefault(e.chunk_id, (pid, e))
            self.by_file[name] = packs
            self._loaded.add(name)

    def files(self) -> set[str]:
        return set(self._loaded)

    def write(self, packs: dict[bytes, list[PackEntry]]) -> str:
        """Durably write a new index file naming `packs`; returns its name."""
        data = encode_index(packs)
        name = hashing.digest(data).hex()
        write_atomic(self.folder / name, data)
        self._loaded.add(name)
        self.by_file[name] = packs
        for pid, entries in packs.items():
            for e in entries:
                self.locations.setdefault(e.chunk_id, (pid, e))
        return name
