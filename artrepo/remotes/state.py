"""The remote's ref table: the one mutable object of a remote.

`<url>/state` is zstd-compressed msgpack:

    {"v": 2, "base": base table name or nil, "refs": {ref name: commit id, or nil: removed},
     "tops": {name: highest auto-increment number published}, "git": [git pack names, oldest first],
     "index": [index file names, oldest first], "writer": random nonce,
     "retired": {object key: unix time} (optional)}

The remote's refs are those of the base table (reftable.py: immutable, the
bulk) with `refs` applied over them; `refs` collects the changes of recent
pushes until they exceed `FOLD_AT`, when the pusher writes a new base. So a
push after one save reads and writes a table of a few changes whatever the
bucket holds, and looks up the refs it sends in the base table (cached
locally). Each push publishes all its refs in one conditional write (If-Match
on what it read; If-None-Match for the first push): two pushers racing cannot
both win, and the loser re-reads, re-plans (renumbering its versions) and
tries again. The nonce makes each payload unique, so an ambiguous 412 can be
resolved by reading back. Version 1 (every ref in `refs`, no base, no tops)
is read as a table without base and written back as version 2.

`retired` names the packs, index files and git packs a remote gc replaced
(regrouped, merged), and the base tables a fold replaced, with the time the
table stopped naming them: a reader that read the table before still finds
them, until gc removes them once that time and their own age are older than
its grace period (maintenance/gc.py).
"""
from __future__ import annotations

import os
import re
import time

from artrepo import names
from artrepo.errors import ArtrepoError, IntegrityError
from artrepo.gitdb import layout
from artrepo.remotes.reftable import FOLD_AT, TableCache, decode_table, encode_table, table_key

STATE_KEY = "state"
STATE_VERSION = 2
_OID = re.compile(r"[0-9a-f]{40}\Z")
_HASH = re.compile(r"[0-9a-f]{64}\Z")
# encoded components only (names.encode): what git accepts and artrepo writes
_REF = re.compile(r"refs/artrepo(/[A-Za-z0-9_+,-][A-Za-z0-9_+,.-]{0,254})+\Z")
MAX_STATE_BYTES = 1 << 30
_RETIRED_KEY = re.compile(r"(?:(?:packs|index|tables)/[0-9a-f]{64}|git/[0-9a-f]{64}\.pack)\Z")
# a subset of the valid refs that needs no decoding: a version or alias whose name and label have no `.` or `::`
# (nothing to decode, no `.lock` ending) within the length limits, or a run; every other ref takes ref_problem
_PLAIN = re.compile(r"refs/artrepo/(?:(?:v|aliases)/[A-Za-z0-9_][A-Za-z0-9_-]{0,127}/[A-Za-z0-9_][A-Za-z0-9_-]{0,63}"
                    r"|runs/[0-9a-f]{40})\Z")


class RemoteState:
    """A remote's refs as one ref table read them: a base table with changes over it.

    `refs` is every ref ({name: commit id}, built on first use); `get` and
    `publishes` answer for one ref or commit without building it.
    """

    def __init__(self, refs=None, git_packs=(), index_files=(), token: str | None = None, *,
                 base: str | None = None, tops: dict[str, int] | None = None, loader=None,
                 retired: dict[str, int] | None = None):
        self.changes: dict[str, str | None] = dict(refs or {})  # over the base table; None: removed
        self.git_packs = list(git_packs)
        self.index_files = list(index_files)
        self.token = token  # what the conditional write compares against; None: no state yet
        self.base = base
        self.tops = dict(tops) if tops is not None else _tops(self.changes)
        self.retired = dict(retired or {})  # object key -> when a remote gc stopped naming it (unix seconds)
        self._loader = loader  # base table name -> PackedRefs
        self._table = None
        self._refs: dict[str, str] | None = None

    @property
    def exists(self) -> bool:
        return self.token is not None

    @property
    def table(self):
        if self._table is None and self.base is not None:
            self._table = self._loader(self.base)
        return self._table

    @property
    def refs(self) -> dict[str, str]:
        if self._refs is None:
            refs = dict(self.table.items()) if self.base is not None else {}
            refs.update(self.changes)
            self._refs = {ref: oid for ref, oid in refs.items() if oid is not None}
        return self._refs

    def get(self, ref: str) -> str | None:
        if ref in self.changes:
            return self.changes[ref]
        return self.table.get(ref) if self.base is not None else None

    def publishes(self, oid: str) -> bool:
        """Whether some ref of the remote names commit `oid` (one search of the base table's bytes)."""
        if any(v == oid for v in self.changes.values()):
            return True
        return self.base is not None and any(ref not in self.changes for ref in self.table.holding(oid))

    def top(self, name: str) -> int:
        """The highest auto-increment number of `name` ever published here (0: none)."""
        return self.tops.get(name, 0)

    def changed(self, updates: dict[str, str], removals=(), git_packs=(), index_files=()) -> "RemoteState":
        """The next table: these refs set or removed, git packs and index files added (same base)."""
        changes = {**self.changes, **updates, **{ref: None for ref in removals}}
        if self.base is None:
            changes = {ref: oid for ref, oid in changes.items() if oid is not None}
        tops = dict(self.tops)
        for name, number in _tops(updates).items():
            tops[name] = max(tops.get(name, 0), number)
        return RemoteState(changes, self.git_packs + [g for g in git_packs if g not in self.git_packs],
                           self.index_files + [i for i in index_files if i not in self.index_files],
                           base=self.base, tops=tops, loader=self._loader,
                           retired=self.retired)._with_table(self._table)

    def maintained(self, index_files: list[str], git_packs: list[str], retired: dict[str, int]) -> "RemoteState":
        """The same refs, with exactly these index files, git packs and retired objects (a remote gc's table)."""
        return RemoteState(self.changes, git_packs, index_files, base=self.base, tops=self.tops,
                           loader=self._loader, retired=retired)._with_table(self._table)

    def _with_table(self, table) -> "RemoteState":
        self._table = table
        return self


def _tops(refs: dict[str, str | None]) -> dict[str, int]:
    tops: dict[str, int] = {}
    for ref, oid in refs.items():
        if oid is not None and ref.startswith(layout.VERSIONS + "/"):
            name, label = layout.split_version_ref(ref)
            if label.isdigit():
                tops[name] = max(tops.get(name, 0), int(label))
    return tops


def encode_state(state: RemoteState) -> bytes:
    import msgpack
    import zstandard

    doc = {"v": STATE_VERSION, "base": state.base, "refs": dict(sorted(state.changes.items())),
           "tops": dict(sorted(state.tops.items())), "git": list(state.git_packs), "index": list(state.index_files),
           "writer": os.urandom(16).hex()}
    if state.retired:
        doc["retired"] = dict(sorted(state.retired.items()))
    return zstandard.ZstdCompressor(level=3).compress(msgpack.packb(doc))


def decode_state(data: bytes, url: str, loader=None) -> RemoteState:
    """The ref table, refused whole (IntegrityError) unless every ref name, id and object name is valid."""
    import msgpack
    import zstandard

    try:
        raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_STATE_BYTES)
        doc = msgpack.unpackb(raw)
    except Exception as exc:
        raise IntegrityError(f"remote {url}: unreadable ref table ({exc})") from None
    version = doc.get("v") if type(doc) is dict else None
    if version not in (1, STATE_VERSION):
        raise IntegrityError(f"remote {url}: unreadable ref table (unknown version {version!r}; upgrade artrepo)")
    refs, git, index = doc.get("refs"), doc.get("git"), doc.get("index")
    base, tops = doc.get("base"), doc.get("tops") if version > 1 else None
    if type(refs) is not dict or type(git) is not list or type(index) is not list:
        raise IntegrityError(f"remote {url}: unreadable ref table (refs, git or index of the wrong type)")
    if version > 1 and (type(tops) is not dict or (base is not None and (type(base) is not str or
                                                                        not _HASH.match(base)))):
        raise IntegrityError(f"remote {url}: unreadable ref table (base or tops of the wrong type)")
    if tops is not None and not all(type(n) is str and type(t) is int and 0 < t < 1 << 63 for n, t in tops.items()):
        raise IntegrityError(f"remote {url}: unreadable ref table (a top that is not a positive number)")
    plain, oid_ok = _PLAIN.match, _OID.match
    for name, oid in refs.items():
        if type(name) is str and plain(name) and ((type(oid) is str and oid_ok(oid)) or (oid is None and base)):
            continue  # the common case, proven valid by one match (ref_problem would say None)
        why = ref_problem(name) if oid is None and base else _invalid(name, oid)
        if why is not None:
            raise IntegrityError(f"remote {url}: invalid ref {str(name)[:300]!r} in its ref table ({why})")
    for name in git + index:
        if type(name) is not str or not _HASH.match(name):
            raise IntegrityError(f"remote {url}: invalid object name {str(name)[:80]!r} in its ref table")
    retired = doc.get("retired", {})
    if type(retired) is not dict or not all(type(k) is str and _RETIRED_KEY.match(k) and type(t) is int
                                            and 0 <= t < 1 << 63 for k, t in retired.items()):
        raise IntegrityError(f"remote {url}: unreadable ref table (retired objects of the wrong form)")
    if base is not None and loader is None:
        loader = TableLoader(None, url).load
    return RemoteState(refs, git, index, base=base, tops=tops, loader=loader, retired=retired)


def _invalid(ref, oid) -> str | None:
    """Why (`ref`, `oid`) may not be a ref of a remote's table, or None."""
    if type(ref) is str and _PLAIN.match(ref) and type(oid) is str and _OID.match(oid):
        return None
    why = ref_problem(ref)
    if why is None and (type(oid) is not str or not _OID.match(oid)):
        why = "it does not name a commit id"
    return why


def ref_problem(ref) -> str | None:
    """Why `ref`, a name taken from a remote, may not become a local ref (None: it may).

    Every component is one that git accepts and artrepo writes (`names.encode`);
    versions and aliases must decode to valid names, run refs to run ids.
    """
    if type(ref) is not str or not _REF.match(ref) or ".." in ref:
        return "not a ref name artrepo writes"
    parts = ref[len(layout.PREFIX):].split("/")
    if any(p.endswith((".", ".lock")) for p in parts):
        return "not a ref name artrepo writes"
    kind = layout.ref_kind(ref)
    try:
        if kind in ("version", "alias"):
            if len(parts) != 3 or any(names.encode(names.decode(p)) != p for p in parts[1:]):
                return f"not a {kind} ref"
            names.validate_name(names.decode(parts[1]))
            names.validate_version(names.decode(parts[2]), kind)
        elif kind == "run" and (len(parts) != 2 or not _OID.match(parts[1])):
            return "not a run id"
    except ArtrepoError as exc:
        return str(exc)
    return None


class TableLoader:
    """Base tables of one remote: from the local cache, or downloaded and checked once."""

    def __init__(self, backend, url: str, cache: TableCache | None = None):
        self.backend, self.url = backend, url
        self.cache = cache if cache is not None else TableCache(None)  # None: in memory, for this table only

    def load(self, name: str):
        from artrepo.storage.backend import MissingObjectError

        found = self.cache.get(name)
        if found is not None:
            return found
        if self.backend is None:
            raise IntegrityError(f"remote {self.url}: base ref table {name[:12]} cannot be read here")
        try:
            data = self.backend.get(table_key(name))
        except MissingObjectError:
            raise IntegrityError(f"remote {self.url}: its ref table names base table {name[:12]}, "
                                 "which is missing") from None
        return self.cache.add(name, decode_table(data, name, self.url, _invalid))

    def fold(self, state: RemoteState) -> RemoteState:
        """`state` with its changes written into a new base table (uploaded create-only), if they are many."""
        if len(state.changes) <= FOLD_AT:
            return state
        name, data, text = encode_table(state.refs)
        self.backend.put_content(table_key(name), data)
        retired = dict(state.retired)
        if state.base is not None and state.base != name:  # a reader of the previous table may still fetch it
            retired[table_key(state.base)] = int(time.time())
        folded = RemoteState({}, state.git_packs, state.index_files, base=name, tops=state.tops, loader=self.load,
                             retired=retired)
        return folded._with_table(self.cache.add(name, text))


def read_state(backend, cache: TableCache | None = None) -> RemoteState:
    found = backend.get_with_token(STATE_KEY)
    if found is None:
        return RemoteState()
    state = decode_state(found[0], backend.url, TableLoader(backend, backend.url, cache).load)
    state.token = found[1]
    return state


def write_state(backend, base: RemoteState, new: RemoteState, cache: TableCache | None = None) -> RemoteState | None:
    """Replace the ref table if it is still `base`: the table written (`new`, its changes folded into a new base
    table if they are many), or None if another writer got there first."""
    new = TableLoader(backend, backend.url, cache).fold(new)
    data = encode_state(new)
    written = backend.put_if_absent(STATE_KEY, data) if base.token is None else \
        backend.put_if_match(STATE_KEY, data, base.token)
    return new if written else None
