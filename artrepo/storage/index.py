"""The chunk index: where each chunk lives (format v1).

An index file is msgpack: `{"v": 1, "packs": {pack_id: [[chunk_id, codec,
offset, length, raw_length], ...]}}`, stored at `index/<name>` where the
name is the BLAKE3 of its bytes (ids.py). Several index files coexist; their
union is the index. They are written after the packs they name and never
changed; `gc` replaces them by a merged one. Everything here can be rebuilt
from the pack footers.

Which files make the union: in a repository's own store every file under
`index/`; in a remote's, exactly those its ref table lists (`use(names)`).
"""
from __future__ import annotations

from pathlib import Path

import msgpack

from artrepo.atomic import write_atomic
from artrepo.errors import IntegrityError
from artrepo.storage.backend import Backend, MissingObjectError
from artrepo.storage.ids import ChunkId, PackId, index_name
from artrepo.storage.packfile import PackEntry

INDEX_VERSION = 1
FOLDER = "index"


def index_key(name: str) -> str:
    return f"{FOLDER}/{name}"


def encode_index(packs: dict[PackId, list[PackEntry]]) -> bytes:
    body = {
        pid: [[e.chunk_id, e.codec, e.offset, e.length, e.raw_length] for e in entries]
        for pid, entries in sorted(packs.items())
    }
    return msgpack.packb({"v": INDEX_VERSION, "packs": body})


def decode_index(data: bytes, name: str) -> dict[PackId, list[PackEntry]]:
    try:
        doc = msgpack.unpackb(data, strict_map_key=False, max_bin_len=64)
        if doc.get("v") != INDEX_VERSION:
            raise ValueError(f"unknown index version {doc.get('v')!r}")
        return {
            PackId(bytes(pid)): [PackEntry(ChunkId(bytes(r[0])), r[1], r[2], r[3], r[4]) for r in rows]
            for pid, rows in doc["packs"].items()
        }
    except Exception as exc:
        raise IntegrityError(f"index {name}: unreadable ({exc})") from None


class ChunkIndex:
    """The union of index files: chunk id -> (pack id, entry).

    A damaged file must not make a store unusable: its chunks read as
    missing, it is listed in `damaged` (fsck reports it, gc rebuilds it).
    """

    def __init__(self, backend: Backend, *, cache: Path | None = None):
        self.backend = backend
        self.cache = cache  # a local folder of verified copies (remote stores): each file is downloaded once
        self.named: list[str] | None = None  # exactly these files; None: every file under index/
        self.files: dict[str, dict[PackId, list[PackEntry]]] = {}  # what each file says (fsck, gc)
        self.damaged: dict[str, str] = {}  # file name -> what is wrong with it
        self.missing: list[str] = []  # named files that do not exist
        self.locations: dict[ChunkId, tuple[PackId, PackEntry]] = {}
        self.packs: dict[PackId, list[PackEntry]] = {}  # every indexed pack, first file naming it winning

    def use(self, names: list[str]) -> None:
        """Make the union exactly the named files (a remote's ref table lists them), in this order."""
        self.named = list(names)
        self.refresh()

    def refresh(self) -> None:
        """Read index files written since the last refresh (by any process); forget files gc removed."""
        names = self.named if self.named is not None else self._listed()
        self.missing = []
        new = []
        for name in names:
            if name not in self.files and name not in self.damaged:
                packs = self._load(name)
                if packs is not None:
                    self.files[name] = packs
                    new.append(name)
        current = set(names)
        if any(name not in current for name in self.files):
            # gc replaced index files: forget entries of packs it may have removed
            self.files = {name: self.files[name] for name in names if name in self.files}
            self.locations, self.packs = {}, {}
            new = list(self.files)
        for name in new:
            self._add(self.files[name])

    def _listed(self) -> list[str]:
        cut = len(FOLDER) + 1
        return [key[cut:] for key in self.backend.list_prefix(FOLDER) if not key[cut:].startswith(".")]

    def _load(self, name: str) -> dict[PackId, list[PackEntry]] | None:
        data = self._cached(name)
        if data is None:
            try:
                data = self.backend.get(index_key(name))
            except MissingObjectError:
                if self.named is not None:
                    self.missing.append(name)
                return None  # listed, then removed by gc: gone from the union
        try:
            if index_name(data) != name:
                raise IntegrityError(f"index {name[:12]}: content does not match its name")
            packs = decode_index(data, name[:12])
        except IntegrityError as exc:
            self.damaged[name] = str(exc)
            return None
        if self.cache is not None and not (self.cache / name).is_file():
            write_atomic(self.cache / name, data)
        return packs

    def _cached(self, name: str) -> bytes | None:
        path = self.cache / name if self.cache is not None else None
        if path is None or not path.is_file():
            return None
        data = path.read_bytes()
        return data if index_name(data) == name else None

    def _add(self, packs: dict[PackId, list[PackEntry]]) -> None:
        for pid, entries in packs.items():
            self.packs.setdefault(pid, entries)
            for e in entries:
                self.locations.setdefault(e.chunk_id, (pid, e))

    def write(self, packs: dict[PackId, list[PackEntry]]) -> str:
        """Durably write a new index file naming `packs` (already durable); returns its name."""
        data = encode_index(packs)
        name = index_name(data)
        self.backend.put_content(index_key(name), data)
        if self.named is not None and name not in self.named:
            self.named.append(name)
        if name not in self.files:
            self.files[name] = packs
            self._add(packs)
        return name
