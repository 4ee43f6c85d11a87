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
from artrepo.storage.ids import PackId, index_name, short
from artrepo.storage.packfile import (CODEC_RAW, CODEC_ZSTD, MAX_BLOBS, MAX_CHUNK, PackEntry, checked_entry,
                                      id_of)

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
    """What an index file says, every row checked as a pack header's is (`packfile.checked_entry`).

    A pack's rows must be contiguous from offset 0 (they are its footer's,
    with offsets) and add up to no more than a pack may hold: an index file
    cannot make a reader fetch or allocate more than the format allows.
    """
    try:
        doc = msgpack.unpackb(data, strict_map_key=False, max_bin_len=64)
    except Exception as exc:
        raise IntegrityError(f"index {name}: unreadable ({exc})") from None
    if type(doc) is not dict or doc.get("v") != INDEX_VERSION:
        version = doc.get("v") if type(doc) is dict else None
        raise IntegrityError(f"index {name}: unreadable (unknown index version {version!r})")
    packs = doc.get("packs")
    if type(packs) is not dict:
        raise IntegrityError(f"index {name}: unreadable (no map of packs)")
    out = {}
    for pid, rows in packs.items():
        if type(pid) is not bytes or len(pid) != 32 or type(rows) is not list:
            raise IntegrityError(f"index {name}: a pack id is not 32 bytes, or its rows not an array")
        out[PackId(pid)] = _entries(rows, f"index {name}, pack {short(pid)}")
    return out


def _entries(rows: list, where: str) -> list[PackEntry]:
    entries, offset = [], 0
    for row in rows:
        # the checks of packfile.checked_entry, inline (an index may hold millions of rows); it words the error
        if type(row) is list and len(row) == 5:
            cid, codec, at, length, raw = row
            if (type(cid) is bytes and len(cid) == 32 and type(codec) is int and type(at) is int
                    and type(length) is int and type(raw) is int and at == offset and 0 <= length <= raw <= MAX_CHUNK
                    and (codec == CODEC_ZSTD or (codec == CODEC_RAW and length == raw))):
                entries.append(PackEntry(cid, codec, at, length, raw))
                offset += length
                continue
        if type(row) is not list or len(row) != 5:
            raise IntegrityError(f"{where}: a row is not [chunk id, codec, offset, length, raw length]")
        e = checked_entry(*row, where)
        raise IntegrityError(f"{where}: chunk {short(e.chunk_id)} is not where the previous rows end")
    if offset > MAX_BLOBS:
        raise IntegrityError(f"{where}: {offset} bytes of chunks, more than a pack may hold")
    return entries


def check_pack_ids(packs: dict[PackId, list[PackEntry]], name: str) -> None:
    """Each pack's rows imply its footer, hence its id: rows that do not are a lie about the pack."""
    for pid, entries in packs.items():
        if id_of(entries) != pid:
            raise IntegrityError(f"index {name}: its rows for pack {short(pid)} do not hash to the pack's id "
                                 "(they do not say what the pack holds)")


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
            if self.named is not None:  # a remote's: written by anyone who can write there
                check_pack_ids(packs, name[:12])
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
