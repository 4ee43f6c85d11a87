"""The chunk index: where each chunk lives (format v1).

An index file of format 1 is msgpack: `{"v": 1, "packs": {pack_id:
[[chunk_id, codec, offset, length, raw_length], ...]}}`; one of format 2 is
the same rows sorted by chunk id in fixed-width records (sortedindex.py), for
the large merged files of a repository. Either is stored at `index/<name>`
where the name is the BLAKE3 of its bytes (ids.py). Several index files
coexist; their union is the index. They are written after the packs they
name and never changed; repacks and `gc` replace them by a merged one.
Everything here can be rebuilt from the pack footers.

Which files make the union: in a repository's own store every file under
`index/`; in a remote's, exactly those its ref table lists (`use(names)`).
"""
from __future__ import annotations

from itertools import repeat, starmap
from operator import itemgetter
from pathlib import Path

import msgpack

from artrepo.atomic import read_or_map, write_atomic
from artrepo.errors import IntegrityError
from artrepo.storage.backend import Backend, MissingObjectError
from artrepo.storage.ids import ChunkId, PackId, file_name, short
from artrepo.storage.packfile import CHUNK, MAX_BLOBS, PackEntry, checked_entry, id_of, rows_sound
from artrepo.storage.sortedindex import SortedIndex, encode_sorted, is_sorted_index

INDEX_VERSION = 1
FOLDER = "index"


def index_key(name: str) -> str:
    return f"{FOLDER}/{name}"


def encode_index(packs: dict[PackId, list[PackEntry]]) -> bytes:
    body = {pid: rows_of(entries) for pid, entries in sorted(packs.items())}
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
    if rows_sound(rows):
        entries = list(starmap(PackEntry, rows))
    else:  # a row `rows_sound` refuses: `checked_entry` words why
        entries, offset = [], 0
        for row in rows:
            if type(row) is not list or len(row) != 5:
                raise IntegrityError(f"{where}: a row is not [chunk id, codec, offset, length, raw length]")
            entries.append(checked_entry(*row, where))
            if entries[-1].offset != offset:
                raise IntegrityError(f"{where}: chunk {short(row[CHUNK])} is not where the previous rows end")
            offset += entries[-1].length
    if entries and entries[-1].offset + entries[-1].length > MAX_BLOBS:
        raise IntegrityError(f"{where}: {entries[-1].offset + entries[-1].length} bytes of chunks, "
                             "more than a pack may hold")
    return entries


def check_pack_ids(packs: dict[PackId, list[PackEntry]], name: str) -> None:
    """Each pack's rows imply its footer, hence its id: rows that do not are a lie about the pack."""
    for pid, entries in packs.items():
        if id_of(entries) != pid:
            raise IntegrityError(f"index {name}: its rows for pack {short(pid)} do not hash to the pack's id "
                                 "(they do not say what the pack holds)")


class ChunkIndex:
    """The union of index files: chunk id -> (pack id, entry).

    Format 1 files (small: one per save) are decoded into `_loc`; format 2
    files (sortedindex.py: the merged index of a repack or gc) are mapped and
    searched, never decoded on the way to one chunk. `locations` answers
    lookups over both; `files` and `packs` decode everything (fsck, gc, du).
    A damaged file must not make a store unusable: its chunks read as
    missing, it is listed in `damaged` (fsck reports it, gc rebuilds it).
    """

    def __init__(self, backend: Backend, *, cache: Path | None = None, sorted_from: int | None = None):
        self.backend = backend
        self.cache = cache  # a local folder of verified copies (remote stores): each file is downloaded once
        self.sorted_from = sorted_from  # write format 2 from this many entries (None: always format 1)
        self.named: list[str] | None = None  # exactly these files; None: every file under index/
        self.damaged: dict[str, str] = {}  # file name -> what is wrong with it
        self.missing: list[str] = []  # named files that do not exist
        self._small: dict[str, dict[PackId, list[PackEntry]]] = {}  # format 1 files, decoded
        self._sorted: dict[str, SortedIndex] = {}  # format 2 files, mapped
        self._loc: dict[ChunkId, tuple[PackId, PackEntry]] = {}  # the entries of the format 1 files
        self._decoded: dict[str, dict[PackId, list[PackEntry]]] = {}
        self._packs: dict[PackId, list[PackEntry]] | None = None
        self._order: list[str] = []
        self.locations = _Locations(self)
        self.forgotten: set[PackId] = set()  # packs known to be gone (`forget`)

    def use(self, names: list[str]) -> None:
        """Make the union exactly the named files (a remote's ref table lists them), in this order."""
        self.named = list(names)
        self.refresh()

    @property
    def names(self) -> list[str]:
        """The readable index files in the union."""
        return [n for n in self._order if n in self._small or n in self._sorted]

    def refresh(self) -> None:
        """Read index files written since the last refresh (by any process); forget files gc removed."""
        names = self.named if self.named is not None else self._listed()
        self.missing = []
        current = set(names)
        if any(name not in current for name in (*self._small, *self._sorted)):
            # gc or a repack replaced index files: forget entries of packs it may have removed
            self._small = {n: v for n, v in self._small.items() if n in current}
            self._sorted = {n: v for n, v in self._sorted.items() if n in current}
            self._decoded = {n: v for n, v in self._decoded.items() if n in current}
            self._loc = {}
            for packs in self._small.values():
                self._add(packs)
            self._packs = None
        for name in names:
            if name not in self._small and name not in self._sorted and name not in self.damaged:
                self._load(name)
        self._order = list(names)

    def _listed(self) -> list[str]:
        cut = len(FOLDER) + 1
        return [key[cut:] for key in self.backend.list_prefix(FOLDER) if not key[cut:].startswith(".")]

    def _load(self, name: str) -> None:
        data = self._cached(name)
        checked = data is not None  # a cached copy was checked before it was kept
        local = self.backend.local_path(index_key(name))
        if data is None:
            try:
                data = read_or_map(local, 1 << 16) if local is not None else self.backend.get(index_key(name))
            except (MissingObjectError, FileNotFoundError):
                if self.named is not None:
                    self.missing.append(name)
                return  # listed, then removed by gc: gone from the union
        try:
            if is_sorted_index(data):
                if not checked and (local is None or self.cache is not None):  # a local file is hashed by fsck
                    _check_name(data, name)
                index = SortedIndex(data, name[:12])
                if self.named is not None and not checked:  # a remote's: written by anyone who can write there
                    check_pack_ids(index.packs(), name[:12])
                self._sorted[name] = index
            else:
                if not checked:
                    _check_name(data, name)
                packs = decode_index(bytes(data), name[:12])
                if self.named is not None and not checked:
                    check_pack_ids(packs, name[:12])
                self._small[name] = packs
                self._add(packs)
        except (IntegrityError, ValueError) as exc:
            self.damaged[name] = str(exc) if isinstance(exc, IntegrityError) else f"index {name[:12]}: {exc}"
            return
        self._packs = None
        if self.cache is not None and not (self.cache / name).is_file():
            write_atomic(self.cache / name, bytes(data))

    def _cached(self, name: str) -> bytes | None:
        path = self.cache / name if self.cache is not None else None
        if path is None or not path.is_file():
            return None
        data = path.read_bytes()
        return data if file_name(data) == name else None

    def forget(self, pack_ids) -> None:
        """Leave these packs out of the union (their data is gone): their chunks read as missing, and are
        written again by the next save that needs them instead of being deduplicated against."""
        gone = set(pack_ids) - self.forgotten
        if not gone:
            return
        self.forgotten |= gone
        self._loc, self._packs = {}, None
        for name in self.names:
            if name in self._small:
                self._add(self._small[name])

    def _add(self, packs: dict[PackId, list[PackEntry]]) -> None:
        for pid, entries in packs.items():
            if pid in self.forgotten:
                continue
            for e in entries:
                self._loc.setdefault(e.chunk_id, (pid, e))

    def lookup(self, cid: bytes) -> tuple[PackId, PackEntry] | None:
        found = self._loc.get(cid)
        if found is None:
            for index in self._sorted.values():
                found = index.get(cid)
                if found is not None and found[0] not in self.forgotten:
                    break
                found = None
        return found

    def verify(self) -> None:
        """Hash every format 2 file against its name (readers map them unhashed); damaged ones leave the union."""
        for name, index in list(self._sorted.items()):
            try:
                _check_name(index.data, name)
            except IntegrityError as exc:
                self._drop_damaged(name, str(exc))

    def _drop_damaged(self, name: str, why: str) -> None:
        """A format 2 file found damaged leaves the union (and every cache of what it said)."""
        self.damaged[name] = why
        del self._sorted[name]
        self._decoded.pop(name, None)
        self._packs = None

    @property
    def files(self) -> dict[str, dict[PackId, list[PackEntry]]]:
        """What each readable index file says, in union order (decodes format 2 files)."""
        out = {}
        for name in self.names:
            if name in self._small:
                out[name] = self._small[name]
            else:
                if name not in self._decoded:
                    try:
                        self._decoded[name] = self._sorted[name].packs()
                    except ValueError as exc:
                        self._drop_damaged(name, f"index {name[:12]}: {exc}")
                        continue
                out[name] = self._decoded[name]
        return out

    def rows(self) -> dict[str, dict[PackId, list[tuple]]]:
        """`files` with each entry a tuple in `PackEntry`'s field order (format 2 files decoded without an
        object per entry: fsck reads every row of a 100,000-chunk index)."""
        out = {}
        for name in self.names:
            if name in self._small:
                out[name] = {pid: rows_of(entries) for pid, entries in self._small[name].items()}
                continue
            try:
                out[name] = self._sorted[name].rows()
            except ValueError as exc:
                self._drop_damaged(name, f"index {name[:12]}: {exc}")
        return out

    def locate_all(self, rows: dict[str, dict[PackId, list[tuple]]]) -> dict[ChunkId, tuple[PackId, tuple]]:
        """chunk id -> (pack id, row) of every chunk in `rows` (from `rows()`), the pack `lookup` answers: one
        pass over each file instead of a search per chunk."""
        out: dict[ChunkId, tuple[PackId, tuple]] = {}
        # lookup asks the format 1 files first, then the format 2 files in order, and the first to name a
        # chunk wins (in a format 2 file its lowest pack id, and in a pack its first row): written in
        # reverse, so that the winner is written last
        first = [n for n in rows if n in self._small] + [n for n in self._sorted if n in rows]
        for name in reversed(first):
            found = {}
            for pid, entries in reversed(rows[name].items()):
                if name in self._sorted or pid not in self.forgotten:  # format 1: forgotten packs never answer
                    found.update(zip(map(_CHUNK, reversed(entries)), zip(repeat(pid), reversed(entries))))
            if self.forgotten and name in self._sorted:  # format 2: a chunk whose first row is forgotten is
                found = {cid: f for cid, f in found.items() if f[0] not in self.forgotten}  # not in that file
            out.update(found)
        return out

    @property
    def packs(self) -> dict[PackId, list[PackEntry]]:
        """Every indexed pack with its entries, the first file naming it winning."""
        if self._packs is None:
            packs: dict[PackId, list[PackEntry]] = {}
            for by_pack in self.files.values():
                for pid, entries in by_pack.items():
                    if pid not in self.forgotten:
                        packs.setdefault(pid, entries)
            self._packs = packs
        return self._packs

    def write(self, packs: dict[PackId, list[PackEntry]], *, durable: bool = True) -> str:
        """Write a new index file naming `packs` (already durable); returns its name.

        Format 2 when this store writes it and the file is large; otherwise
        format 1. Not `durable`: the caller makes it so with a filesystem sync
        before anything depends on it (a repository's saves).
        """
        rows = sum(len(e) for e in packs.values())
        sorted_ = self.sorted_from is not None and rows >= self.sorted_from
        data = encode_sorted(packs) if sorted_ else encode_index(packs)
        name = file_name(data)
        local = self.backend.local_path(index_key(name))
        if local is not None and not durable:
            write_atomic(local, data, sync=False)  # a file of this name holds these bytes: replacing it is harmless
        else:
            self.backend.put_content(index_key(name), data)
        if self.cache is not None:  # our own file: kept as a checked copy, never downloaded again
            write_atomic(self.cache / name, data, sync=False, sync_dir=False)
        if self.named is not None and name not in self.named:
            self.named.append(name)
        if name not in self._small and name not in self._sorted:
            if sorted_:
                self._sorted[name] = SortedIndex(data, name[:12])
            else:
                self._small[name] = packs
                self._add(packs)
            self._order = [*self._order, name]
            self._packs = None
        return name


class _Locations:
    """chunk id -> (pack id, entry) over every file of an index (a read-only mapping)."""

    def __init__(self, index: ChunkIndex):
        self._index = index

    def get(self, cid, default=None):
        found = self._index.lookup(cid)
        return default if found is None else found

    def __contains__(self, cid) -> bool:
        return self._index.lookup(cid) is not None

    def __getitem__(self, cid):
        found = self._index.lookup(cid)
        if found is None:
            raise KeyError(cid)
        return found


def rows_of(entries: list[PackEntry]) -> list[tuple]:
    """Entries as tuples in `PackEntry`'s field order (as `ChunkIndex.rows` gives them)."""
    return [(e.chunk_id, e.codec, e.offset, e.length, e.raw_length) for e in entries]


_CHUNK = itemgetter(CHUNK)


def _check_name(data, name: str) -> None:
    if file_name(data) != name:
        raise IntegrityError(f"index {name[:12]}: content does not match its name")
