"""Automatic packing of a repository, as `git gc --auto` keeps a git repository fast.

    maybe_maintain(repo)     # after a save or a run: cheap checks, packs when they say so
    maintain(repo)           # `artrepo gc` and tests: pack now

Every save leaves a small pack, an index file, four loose git objects and
two loose refs; every run a small git pack and a few loose refs. Once a save
sees more than `AUTO_INDEX_FILES` index files, or a run estimates more than
`AUTO_LOOSE_OBJECTS` loose objects (from one of git's 256 object folders, as
git does) or counts more than `AUTO_GIT_PACKS` git packs (git's
`gc.autoPackLimit`), the repository is packed: the content store's small
segments are merged (storage/repack.py), loose objects go into a git pack
with the smallest packs (gitdb/repack.py), and loose refs into `packed-refs` once
they are `AUTO_LOOSE_REFS` and 1/`REF_FRACTION` of the packed ones (rewriting
`packed-refs` copies every ref: 7 MB, ~30 ms at 100,000 versions, so an
automatic packing does it only after that many new refs). Each step is
geometric or incremental: a save pays for it O(log n) amortized, so 100,000
versions cost per save what 1,000 do.

Packing takes the repository's maintenance lock (one packer at a time; an
automatic one skips when another runs) and the shared gc lock (gc plans
nothing while chunks move; saves go on). An automatic packing that fails is
left for the next one (and fsck reports damage): a save that returned is
never undone by its upkeep. `ARTREPO_AUTO_PACK=0` turns it off.
"""
from __future__ import annotations

import contextlib
import os

from artrepo.atomic import flock
from artrepo.gitdb import layout

AUTO_INDEX_FILES = 32
AUTO_LOOSE_OBJECTS = 2048
AUTO_GIT_PACKS = 50
AUTO_LOOSE_REFS = 64  # an automatic packing packs refs from this many loose ones,
REF_FRACTION = 128  # and 1/REF_FRACTION of the packed ones (at most ~1,000 loose files at 128,000 refs)


def maybe_maintain(repo, *, saved: bool) -> None:
    """Pack if the repository has outgrown its last packing (a save: `saved`; a run: not)."""
    if os.environ.get("ARTREPO_AUTO_PACK", "1") == "0":
        return
    from artrepo.gitdb.repack import count_loose, count_packs

    files = len(repo._chunks.index.names) if saved and repo._chunks is not None else 0
    if (files > AUTO_INDEX_FILES or count_loose(repo.objects) > AUTO_LOOSE_OBJECTS
            or (not saved and count_packs(repo.objects) > AUTO_GIT_PACKS)):
        from artrepo.errors import ArtrepoError

        with contextlib.suppress(ArtrepoError, OSError):
            maintain(repo, wait=False, every_ref=False)


def maintain(repo, *, wait: bool = True, chunks: bool = True, every_ref: bool = True) -> dict | None:
    """Pack chunks (unless not `chunks`: gc regroups them itself), git objects and refs now
    (without `every_ref`, refs only once there are enough loose ones: `refs_due`).

    None if another packer holds the lock and `wait` is False.
    """
    from artrepo.gitdb.repack import repack_objects
    from artrepo.storage.repack import repack

    with flock(layout.maintenance_lock(repo.git_dir), wait=wait) as got:
        if not got:
            return None
        with flock(layout.gc_lock(repo.git_dir), shared=True, wait=wait) as shared:
            if not shared:
                return None  # gc is collecting: it packs everything itself
            upgrade_format(repo)
            packed = repack(repo.chunks) if chunks else None
            objects, merged = repack_objects(repo.objects)
            refs = repo.refs.pack() if every_ref or refs_due(repo.refs) else 0
    return {"index_files": packed.index_files if packed else 0, "packs_regrouped": packed.packs_regrouped if packed else 0,
            "objects": objects, "git_packs_merged": merged, "refs": refs}


def refs_due(refs) -> bool:
    """Whether the loose refs are enough to rewrite `packed-refs` for (see the module docstring)."""
    from artrepo.gitdb.packedrefs import packed_refs

    due = max(AUTO_LOOSE_REFS, len(packed_refs(refs.git_dir)) // REF_FRACTION)
    return refs.loose_count(limit=due) >= due


def upgrade_format(repo) -> None:
    """Write format version 2 into a repository's config before anything only version 2 readers read."""
    from artrepo.gitdb.repo import FORMAT_VERSION, read_format

    if read_format(repo.git_dir) != FORMAT_VERSION:
        repo.config.set("artrepo.formatVersion", str(FORMAT_VERSION))
