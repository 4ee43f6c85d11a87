"""`artrepo gc [--remote NAME]`: remove packs no ref needs, never anything a writer may still need.

The rule (docs/reliability.md, "gc" and "Remote gc"), the same for the local
repository and a remote (view.py):

1. Needed chunks are those of every manifest a ref points at. If any ref or
   record cannot be read, nothing is deleted.
2. A pack is removed only when it holds no needed chunk AND it is older than
   the grace period. Its chunks are known from the index, or from its footer
   where reading it is cheap (so a lost index file is rebuilt, not a loss).
   A pack whose footer is damaged is kept; a pack no index file names whose
   footer was not read (a remote's) can serve nothing and goes when old,
   unless an index file is damaged or missing: then nothing is deleted.
   The same age rule (at least a day for a writer's temporary files) removes
   what interrupted writers left.
3. Index files are replaced by one merged index of the surviving packs,
   written first and adopted (a remote: one conditional write of its ref
   table; if a pusher wrote in between, gc re-reads and re-plans); only then
   are the old index files, the dropped packs and the leftovers deleted, so a
   crash at any point leaves a valid store.

Locally gc holds the exclusive `locks/gc` flock, which saves hold shared:
they are never raced at all. Why a concurrent push loses nothing: it uploads
packs, then its index, then its git pack, then writes the ref table
conditionally; what it uploads is younger than the grace period; a chunk it
did not upload because the remote's index listed it is in a pack gc either
keeps, or drops after changing the ref table, which makes the pusher's
conditional write fail, so it re-plans against the new index list. A pack an
interrupted push left is reused only while younger than
`chunkstore.REUSE_WINDOW`; older, it is written again.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from artrepo.errors import ConflictError, IntegrityError, UserError
from artrepo.gitdb import layout
from artrepo.maintenance.inventory import artrepo_refs, survey
from artrepo.maintenance.reach import reach, refuse_on_damage
from artrepo.repository import Repository
from artrepo.atomic import flock
from artrepo.storage.index import index_key
from artrepo.storage.packfile import PackEntry

LOCK_WAIT = float(os.environ.get("ARTREPO_GC_LOCK_WAIT", "60"))
MAX_ATTEMPTS = 10


@dataclass
class GcResult:
    dropped_packs: dict[bytes, int] = field(default_factory=dict)  # pack id -> size
    dropped_files: list[str] = field(default_factory=list)  # what interrupted writers left
    kept_packs: int = 0
    kept_young: int = 0  # unreferenced packs kept because they are younger than the grace period
    index_files_before: int = 0
    index_rewritten: bool = False
    git_packed: bool = False
    survivors: dict[bytes, list[PackEntry]] = field(default_factory=dict)
    index_file: str | None = None  # the merged index file gc wrote and adopted

    @property
    def freed_bytes(self) -> int:
        return sum(self.dropped_packs.values())


@contextlib.contextmanager
def gc_lock(repo: Repository, wait: float = LOCK_WAIT):
    """The exclusive gc lock; waits for writers holding it shared, up to `wait` seconds."""
    path = layout.gc_lock(repo.git_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UserError("another artrepo process is saving or collecting; gc deleted nothing, "
                                    "try again later") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def collect(view, *, grace: float, dry_run: bool = False, ignore_refs=frozenset(),
            now: float | None = None) -> GcResult:
    """Plan (and unless `dry_run`, carry out) the removal of what no ref of the view needs."""
    for _attempt in range(MAX_ATTEMPTS):
        result = plan(view, grace, time.time() if now is None else now, ignore_refs)
        if dry_run:
            return result
        if result.index_rewritten and not _replace_index(view, result):
            view.refresh()  # another writer changed the index list since we read it: re-read, re-plan
            continue
        for pid in result.dropped_packs:
            view.store.delete_pack(pid)
        # an unlisted index file a killed gc left may be the very one just adopted (same packs, same bytes)
        result.dropped_files = [key for key in result.dropped_files if key != index_key(result.index_file or "")]
        for key in result.dropped_files:
            view.remove(key)
        return result
    raise ConflictError(f"remote {view.name} kept changing during {MAX_ATTEMPTS} attempts; gc deleted nothing")


def plan(view, grace: float, now: float, ignore_refs=frozenset()) -> GcResult:
    reached = reach(view, ignore_refs=ignore_refs)
    refuse_on_damage(view, reached, "nothing was deleted")
    _keep_recently_deleted(view, reached, now - grace)
    index = view.store.index
    intact = not (index.damaged or index.missing)
    packs, _stray = survey(view.store, unindexed_footers=not intact)  # a lost index is rebuilt from footers
    if not intact and any(p.footer is None and p.error is None and p.id not in index.packs for p in packs.values()):
        bad = next(iter(index.damaged or index.missing))  # and those packs' footers were not read: cannot rebuild
        raise IntegrityError(f"{f'remote {view.name}: ' if view.name else ''}index file {bad[:12]} is damaged or "
                             "missing; cannot tell which packs hold needed data (nothing was deleted)")
    result = GcResult(index_files_before=len(index.files) + len(index.damaged) + len(index.missing))
    survivors = result.survivors
    for pid, pack in packs.items():
        entries = index.packs.get(pid) or pack.footer
        if entries is None and pack.error:  # contents unknown: never delete what cannot be read
            result.kept_packs += 1
        elif entries and any(e.chunk_id in reached.users for e in entries):
            survivors[pid] = entries
            result.kept_packs += 1
        elif pack.mtime is None or now - pack.mtime < grace:
            if entries:
                survivors[pid] = entries
            result.kept_young += 1
        else:
            result.dropped_packs[pid] = pack.size
    for pid, entries in index.packs.items():  # a missing pack holding needed chunks: keep naming it (fsck says)
        if pid not in packs and any(e.chunk_id in reached.users for e in entries):
            survivors[pid] = entries
    for key, info in sorted(view.leftovers().items()):
        if info.mtime is not None and now - info.mtime >= max(grace, view.leftover_age):
            result.dropped_files.append(key)
    result.index_rewritten = len(index.files) > 1 or not intact or set(survivors) != set(index.packs)
    return result


def _keep_recently_deleted(view, reached, since: float) -> None:
    """Count the chunks of versions deleted less than the grace period ago as needed (format.md §7)."""
    from artrepo.records.artifact import Annotation

    objects = view.reader.objects
    for head in reached.annotations:
        for top in objects.tree_listing(head, ""):
            for rest in objects.tree_listing(head, top):
                for blob in objects.tree_listing(head, f"{top}/{rest}").values():
                    note = Annotation.from_msgpack(objects.blob(blob))
                    if note.deleted and note.created_ns / 1e9 > since:
                        for cid in view.reader.manifest(note.version_id).chunk_ids():
                            reached.users.setdefault(cid, set()).add(f"{note.version_id[:12]} (deleted)")


def _replace_index(view, result: GcResult) -> bool:
    """One merged index of the surviving packs, adopted by the view; then the files it replaces go."""
    index = view.store.index
    old = list(index.files) + list(index.damaged) + list(index.missing)
    new = index.write(result.survivors) if result.survivors else None
    if not view.adopt_index([new] if new else []):
        return False
    result.index_file = new
    for name in old:
        if name != new:
            view.store.backend.delete(index_key(name))
    return True


def pack_git(repo: Repository, grace: float) -> bool:
    """Pack git refs and objects with stock git; never prune objects younger than the grace period.

    Each loose ref is packed while its artrepo ref flock is held, so a writer
    never mistakes git's `.lock` file for a stale one. Reflogs (alias
    history) are never expired.
    """
    git = shutil.which("git")
    if git is None:
        return False
    base = [git, "-c", "gc.auto=0", "--git-dir", str(repo.git_dir)]
    with contextlib.ExitStack() as stack:
        for ref in sorted(artrepo_refs(repo.git_dir)):
            stack.enter_context(flock(layout.ref_lock(repo.git_dir, ref)))
        subprocess.run([*base, "pack-refs", "--all"], check=True, capture_output=True, timeout=3600)
    prune = "now" if grace <= 0 else f"{int(grace)}.seconds.ago"
    subprocess.run([*base, "-c", "gc.packRefs=false", "-c", "gc.reflogExpire=never",
                    "-c", "gc.reflogExpireUnreachable=never", "-c", "gc.worktreePruneExpire=never",
                    "gc", "--quiet", f"--prune={prune}"], check=True, capture_output=True, timeout=3600)
    return True
