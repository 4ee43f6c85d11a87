"""What a repository or remote holds, read defensively for fsck, gc and du.

Normal commands trust what they read and stop at the first damaged object.
Maintenance must see past damage: it lists refs from the files themselves,
reads each index file separately (a damaged one is reported, not fatal) and,
where that is cheap, reads pack footers without trusting the index.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from artrepo import names
from artrepo.errors import ArtrepoError, IntegrityError, starved
from artrepo.gitdb.layout import ALIASES, ANNOTATIONS, HEADS, PREFIX, VERSIONS
from artrepo.storage.chunkstore import ChunkStore
from artrepo.storage.ids import PackId, pack_id
from artrepo.storage.packfile import LENGTH, MAX_FOOTER, PackEntry, footer_of_rows, id_of, rows_sound

_OIDS = re.compile(r"(?:[0-9a-f]{40}\n)*\Z")


# -- refs ----------------------------------------------------------------------
def artrepo_refs(git_dir: Path) -> dict[str, str]:
    """Every ref under refs/artrepo/ as {ref name: raw text}: a garbage ref is reported, not fatal."""
    from artrepo.gitdb.refs import RefsContainer

    return RefsContainer(git_dir).all(PREFIX)


def all_oids(texts: list[str]) -> bool:
    """Whether every text is an object id (one scan of them all; `gitdb.parsed.is_oid` finds which are not)."""
    joined = "\n".join([*texts, ""])  # n ids of 40 characters make n lines of 41: no text hides a newline
    return len(joined) == 41 * len(texts) and bool(_OIDS.match(joined))


class RefTarget(NamedTuple):
    """A ref under refs/artrepo/ and what it means for users (a tuple: fsck makes one per ref)."""

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


def classify_all(refs: dict[str, str], ignore=frozenset()) -> list[RefTarget]:
    """`classify` of every ref but `ignore`, sorted by ref; a name's versions decode the name once."""
    out, decoded = [], {}
    start = len(VERSIONS) + 1
    for ref, oid in sorted(refs.items()):
        if ref in ignore:
            continue
        folder, _, label = ref.rpartition("/")
        name = decoded.get(folder)
        if name is None and folder.startswith(VERSIONS + "/") and "/" not in folder[start:]:
            name = decoded[folder] = names.decode(folder[start:])
        if name is None:
            out.append(classify(ref, oid))
        else:
            label = names.decode(label)
            out.append(RefTarget(ref, oid, "version", f"{name}:{label}", name, label))
    return out


# -- packs -----------------------------------------------------------------------
@dataclass
class Pack:
    """A pack a store lists, with its footer where reading it is cheap (a local folder)."""

    id: PackId
    size: int
    mtime: float | None
    footer: list[PackEntry] | None = None  # the entries its footer lists (checked against its id)
    error: str | None = None  # what is wrong with its footer
    matches: str | None = None  # an index file whose rows for it are, byte for byte, its footer (not decoded)


def survey(store: ChunkStore, *, unindexed_footers: bool = False,
           rows: dict[str, dict[PackId, list[tuple]]] | None = None) -> tuple[dict[PackId, Pack], list[str]]:
    """Every pack of the store (one listing) and the keys under packs/ that are no pack.

    On the local filesystem each footer is read and checked against the pack's
    id, so the index is not trusted; elsewhere packs are judged by what the
    index says of them (size and id), and read only by `fsck --read-data` or,
    with `unindexed_footers` (an index file is lost or damaged), the footers of
    the packs no index file names: the index is rebuilt from them. Given the
    index's `rows` (`ChunkIndex.rows()`), a footer that is byte for byte the
    one an index file's rows for that pack make, and hashes to the pack's id,
    is not decoded: it holds exactly those rows (`matches` names the file).
    """
    listed, stray = store.list_packs()
    packs = {pid: Pack(pid, info.size, info.mtime) for pid, info in listed.items()}
    named: dict[PackId, list[str]] = {}
    for fname, by_pack in (rows or {}).items():
        for pid in by_pack:
            named.setdefault(pid, []).append(fname)
    for pack in packs.values():
        if store.root is None and not (unindexed_footers and pack.id not in store.index.packs):
            continue
        pack.matches = next((f for f in named.get(pack.id, ()) if _footer_is(store, pack, rows[f][pack.id])), None)
        if pack.matches is not None:
            continue
        try:
            entries = store.read_footer(pack.id, pack.size)
        except (IntegrityError, OSError) as exc:
            if starved(exc):
                raise
            pack.error = str(exc)
            continue
        if id_of(entries) != pack.id:  # a pack swapped for another shows here
            pack.error = f"pack {pack.id.hex()[:12]}: header does not match the pack's name"
        else:
            pack.footer = entries
    return packs, stray


def retired_packs(store: ChunkStore, packs: dict[PackId, Pack], indexed, retired: dict) -> set[PackId]:
    """The packs no index file names (`indexed`) that a remote's gc replaced and keeps, for readers of its previous
    ref table (`retired`: its table's {key: (since when, info)}): gc frees them once the grace period ends."""
    return {pid for pid in packs if pid not in indexed and store.pack_key(pid) in retired} if retired else set()


def _footer_is(store: ChunkStore, pack: Pack, rows: list[tuple]) -> bool:
    """Whether the pack ends with the footer these rows make, sound rows that fill the pack and hash to its id
    (then its footer decodes to exactly these rows, and every check of `decode_footer` holds)."""
    footer = footer_of_rows(rows)
    if (len(footer) > min(pack.size, MAX_FOOTER) or sum(map(_LENGTH, rows)) + len(footer) != pack.size
            or pack_id(footer) != pack.id or not rows_sound(rows)):
        return False
    try:
        return store.read_range(pack.id, pack.size - len(footer), len(footer)) == footer
    except (IntegrityError, OSError):
        return False  # the footer is then decoded (survey), which tells damage from running out of files


_LENGTH = itemgetter(LENGTH)
