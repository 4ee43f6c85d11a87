"""What a repository holds, read defensively for fsck, gc and du.

Normal commands trust what they read and stop at the first damaged object.
Maintenance must see past damage: it lists refs from the files themselves,
reads each index file separately (a damaged one is reported, not fatal) and
reads pack headers without trusting the index.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from artrepo import names
from artrepo.errors import ArtrepoError, IntegrityError
from artrepo.gitdb.layout import ALIASES, ANNOTATIONS, HEADS, PREFIX, VERSIONS
from artrepo.repository import Repository
from artrepo.storage import hashing
from artrepo.storage.chunkstore import ChunkStore
from artrepo.storage.packfile import PackEntry, encode_header

_OID = re.compile(r"[0-9a-f]{40}\Z")
_PACK_NAME = re.compile(r"[0-9a-f]{64}\Z")


def open_repository(root: Path) -> Repository:
    """A Repository for maintenance (its index reports damaged index files in `index.damaged`)."""
    return Repository(root)


# -- refs ----------------------------------------------------------------------
def artrepo_refs(git_dir: Path) -> dict[str, str]:
    """Every ref under refs/artrepo/ as {ref name: raw text}: a garbage ref is reported, not fatal."""
    from artrepo.gitdb.refs import RefsContainer

    return RefsContainer(git_dir).all(PREFIX)


def is_oid(text: str) -> bool:
    return bool(_OID.match(text))


@dataclass(frozen=True, slots=True)
class RefTarget:
    """A ref under refs/artrepo/ and what it means for users."""

    ref: str
    oid: str
    kind: str  # version | alias | head | annotations | other
    label: str  # name:version, name@alias, name (latest), or the ref itself
    name: str | None = None
    version: str | None = None


def classify(ref: str, oid: str) -> RefTarget:
    parts = ref.split("/")
    try:
        if ref.startswith(VERSIONS + "/") and len(parts) == 5:
            name, label = names.decode(parts[3]), names.decode(parts[4])
            return RefTarget(ref, oid, "version", f"{name}:{label}", name, label)
        if ref.startswith(ALIASES + "/") and len(parts) == 5:
            name, alias = names.decode(parts[3]), names.decode(parts[4])
            return RefTarget(ref, oid, "alias", f"{name}@{alias}", name)
        if ref.startswith(HEADS + "/") and len(parts) == 4:
            name = names.decode(parts[3])
            return RefTarget(ref, oid, "head", f"{name} (latest)", name)
    except (ArtrepoError, ValueError):
        pass
    if ref == ANNOTATIONS:
        return RefTarget(ref, oid, "annotations", "annotations")
    return RefTarget(ref, oid, "other", ref)


def version_refs(git_dir: Path) -> list[RefTarget]:
    """Published versions (refs/artrepo/v/NAME/LABEL) whose ref holds an object id."""
    found = [classify(r, t) for r, t in artrepo_refs(git_dir).items()]
    return [t for t in found if t.kind == "version" and is_oid(t.oid)]


# -- packs -----------------------------------------------------------------------
@dataclass
class PackFile:
    """A pack file on disk, with its header if readable."""

    id: bytes
    path: Path
    size: int
    mtime: float
    entries: list[PackEntry] | None = None
    error: str | None = None
    chunk_ids: set[bytes] = field(default_factory=set)


def pack_files(store: ChunkStore) -> tuple[dict[bytes, PackFile], list[Path]]:
    """Pack files on disk (header read and checked) and stray files found among them."""
    packs: dict[bytes, PackFile] = {}
    stray: list[Path] = []
    top = store.root / "packs"
    if not top.is_dir():
        return packs, stray
    for sub in os.scandir(top):
        if not sub.is_dir():
            stray.append(Path(sub.path))
            continue
        for f in os.scandir(sub.path):
            if not _PACK_NAME.match(f.name) or f.name[:2] != sub.name:
                stray.append(Path(f.path))
                continue
            st = f.stat()
            pack = PackFile(bytes.fromhex(f.name), Path(f.path), st.st_size, st.st_mtime)
            _read_header(store, pack)
            packs[pack.id] = pack
    return packs, stray


def _read_header(store: ChunkStore, pack: PackFile) -> None:
    try:
        entries = store.read_pack_entries(pack.id)
    except (IntegrityError, OSError) as exc:
        pack.error = str(exc)
        return
    # A pack's id is the BLAKE3 of its header: a pack swapped for another shows here.
    if hashing.digest(encode_header(entries)) != pack.id:
        pack.error = f"pack {pack.id.hex()[:12]}: header does not match the pack's name"
        return
    pack.entries = entries
    pack.chunk_ids = {e.chunk_id for e in entries}
