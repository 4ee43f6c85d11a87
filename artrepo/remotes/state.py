"""The remote's ref table: the one mutable object of a remote.

`<url>/state` is zstd-compressed msgpack:

    {"v": 1, "refs": {ref name: commit id}, "git": [git pack names, oldest first],
     "index": [index file names, oldest first], "writer": random nonce}

Every ref of the remote lives in this one object, so reading the remote's
refs is one GET whatever the bucket holds, and a push publishes all its refs
in one conditional write (If-Match on what it read; If-None-Match for the
first push): two pushers racing cannot both win, and the loser re-reads,
re-plans (renumbering its versions) and tries again. The nonce makes each
payload unique, so an ambiguous 412 can be resolved by reading back.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from artrepo import names
from artrepo.errors import ArtrepoError, IntegrityError
from artrepo.gitdb import layout

STATE_KEY = "state"
STATE_VERSION = 1
_OID = re.compile(r"[0-9a-f]{40}\Z")
_HASH = re.compile(r"[0-9a-f]{64}\Z")
_RUN_ID = re.compile(r"[0-9a-f]{40}\Z")
# encoded components only (names.encode): what git accepts and artrepo writes
_REF = re.compile(r"refs/artrepo(/[A-Za-z0-9_+,-][A-Za-z0-9_+,.-]{0,254})+\Z")
MAX_STATE_BYTES = 1 << 30


@dataclass
class RemoteState:
    refs: dict[str, str] = field(default_factory=dict)
    git_packs: list[str] = field(default_factory=list)
    index_files: list[str] = field(default_factory=list)
    token: str | None = None  # what the conditional write compares against; None: no state yet

    @property
    def exists(self) -> bool:
        return self.token is not None


def encode_state(state: RemoteState) -> bytes:
    import msgpack
    import zstandard

    doc = {"v": STATE_VERSION, "refs": dict(sorted(state.refs.items())), "git": list(state.git_packs),
           "index": list(state.index_files), "writer": os.urandom(16).hex()}
    return zstandard.ZstdCompressor(level=3).compress(msgpack.packb(doc))


def decode_state(data: bytes, url: str) -> RemoteState:
    """The ref table, refused whole (IntegrityError) unless every ref name, id and object name is valid."""
    import msgpack
    import zstandard

    try:
        raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_STATE_BYTES)
        doc = msgpack.unpackb(raw)
    except Exception as exc:
        raise IntegrityError(f"remote {url}: unreadable ref table ({exc})") from None
    if type(doc) is not dict or doc.get("v") != STATE_VERSION:
        version = doc.get("v") if type(doc) is dict else None
        raise IntegrityError(f"remote {url}: unreadable ref table (unknown version {version!r}; upgrade artrepo)")
    refs, git, index = doc.get("refs"), doc.get("git"), doc.get("index")
    if type(refs) is not dict or type(git) is not list or type(index) is not list:
        raise IntegrityError(f"remote {url}: unreadable ref table (refs, git or index of the wrong type)")
    for name, oid in refs.items():
        why = ref_problem(name)
        if why is None and (type(oid) is not str or not _OID.match(oid)):
            why = "it does not name a commit id"
        if why is not None:
            raise IntegrityError(f"remote {url}: invalid ref {str(name)[:300]!r} in its ref table ({why})")
    for name in git + index:
        if type(name) is not str or not _HASH.match(name):
            raise IntegrityError(f"remote {url}: invalid object name {str(name)[:80]!r} in its ref table")
    return RemoteState(dict(refs), list(git), list(index))


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
        elif kind == "run" and (len(parts) != 2 or not _RUN_ID.match(parts[1])):
            return "not a run id"
    except ArtrepoError as exc:
        return str(exc)
    return None


def read_state(backend) -> RemoteState:
    found = backend.get_with_token(STATE_KEY)
    if found is None:
        return RemoteState()
    state = decode_state(found[0], backend.url)
    state.token = found[1]
    return state


def write_state(backend, base: RemoteState, new: RemoteState) -> bool:
    """Replace the ref table if it is still `base`; False if another writer got there first."""
    data = encode_state(new)
    if base.token is None:
        return backend.put_if_absent(STATE_KEY, data)
    return backend.put_if_match(STATE_KEY, data, base.token)
