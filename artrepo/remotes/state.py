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

from artrepo.errors import IntegrityError

STATE_KEY = "state"
STATE_VERSION = 1
_OID = re.compile(r"[0-9a-f]{40}\Z")
_HASH = re.compile(r"[0-9a-f]{64}\Z")
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
    import msgpack
    import zstandard

    try:
        raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_STATE_BYTES)
        doc = msgpack.unpackb(raw)
        if doc.get("v") != STATE_VERSION:
            raise ValueError(f"unknown ref table version {doc.get('v')!r}; upgrade artrepo")
        refs, git, index = doc["refs"], list(doc["git"]), list(doc["index"])
    except Exception as exc:
        raise IntegrityError(f"remote {url}: unreadable ref table ({exc})") from None
    for name, oid in refs.items():
        if not _REF.match(str(name)) or ".." in name or ".lock/" in name + "/" or not _OID.match(str(oid)):
            raise IntegrityError(f"remote {url}: invalid ref entry {name!r}")
    for name in git + index:
        if not _HASH.match(str(name)):
            raise IntegrityError(f"remote {url}: invalid object name {name!r} in its ref table")
    return RemoteState(dict(refs), git, index)


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
