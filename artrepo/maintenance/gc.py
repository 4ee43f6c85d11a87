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
4. Small packs' needed chunks are regrouped into full packs (locally those
   older than the grace period; on a remote every small pack its index
   names), and a remote's git packs are merged into one pack of what its refs
   reach: a clone after many pushes reads a few objects, not two per push.
   Both are written before the ref table names them. On a remote, what the
   new table no longer names (the regrouped packs, the old index files and
   git packs) is retired, not deleted: the table records when (state.py), so
   a reader that read the previous table still finds every object, and a
   later gc deletes it once that time and its own age are older than the
   grace period (at once with a grace period of 0).

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
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from artrepo.errors import ConflictError, IntegrityError, UserError
from artrepo.gitdb import layout
from artrepo.maintenance.inventory import retired_packs, survey
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
    regroup: dict[bytes, list[PackEntry]] = field(default_factory=dict)  # packs whose needed chunks move
    needed: set = field(default_factory=set)  # chunk ids the refs need (for regrouping)
    written_packs: int = 0
    index_file: str | None = None  # the merged index file gc wrote and adopted
    git_packs_before: int = 0  # a remote's git packs, merged into one when there are several
    git_pack: str | None = None  # the merged git pack gc wrote and adopted
    # a remote's: what its table keeps retired ({key: since when}), what this gc retires, and those kept
    retired: dict[str, int] = field(default_factory=dict)
    retiring: list[str] = field(default_factory=list)
    retired_before: dict[str, int] = field(default_factory=dict)
    keep_replaced: bool = False  # retire what gc replaces (a remote, grace above 0), instead of deleting it

    @property
    def kept_retired(self) -> int:
        """Replaced packs and files a remote keeps for readers of its previous ref table."""
        return len(self.retired)

    @property
    def freed_bytes(self) -> int:
        return sum(self.dropped_packs.values())


@contextlib.contextmanager
def gc_lock(repo: Repository, wait: float = LOCK_WAIT):
    """The exclusive gc lock; waits for writers holding it shared, up to `wait` seconds."""
    with flock(layout.gc_lock(repo.git_dir), wait=float(wait)) as got:
        if not got:
            raise UserError("another artrepo process is saving or collecting; gc deleted nothing, try again later")
        yield


def collect(view, *, grace: float, dry_run: bool = False, ignore_refs=frozenset(),
            now: float | None = None) -> GcResult:
    """Plan (and unless `dry_run`, carry out) the removal of what no ref of the view needs."""
    for _attempt in range(MAX_ATTEMPTS):
        now_ = time.time() if now is None else now
        result = plan(view, grace, now_, ignore_refs)
        if dry_run:
            return result
        written = _regroup(view, result)
        merged = view.merge_git() if result.git_packs_before > 1 else None
        result.git_pack = merged[0] if merged else None
        if _table_changes(result) and not _replace_index(view, result, now_):
            view.refresh()  # another writer changed the index list since we read it: re-read, re-plan
            continue
        for pid in result.dropped_packs:
            if pid not in written:
                view.store.delete_pack(pid)
        # an unlisted index file or git pack a killed gc left may be the very one just adopted (same bytes)
        adopted = {index_key(result.index_file or ""), merged[1] if merged else ""}
        result.dropped_files = [key for key in result.dropped_files if key not in adopted]
        for key in result.dropped_files:
            view.remove(key)
        return result
    raise ConflictError(f"remote {view.name} kept changing during {MAX_ATTEMPTS} attempts; gc deleted nothing")


def plan(view, grace: float, now: float, ignore_refs=frozenset()) -> GcResult:
    reached = reach(view, ignore_refs=ignore_refs, cache=view.reach_cache())
    refuse_on_damage(view, reached, "nothing was deleted")
    _keep_recently_deleted(view, reached, now - grace)
    index = view.store.index
    intact = not (index.damaged or index.missing)
    packs, _stray = survey(view.store, unindexed_footers=not intact)  # a lost index is rebuilt from footers
    if not intact and any(p.footer is None and p.error is None and p.id not in index.packs for p in packs.values()):
        bad = next(iter(index.damaged or index.missing))  # and those packs' footers were not read: cannot rebuild
        raise IntegrityError(f"{f'remote {view.name}: ' if view.name else ''}index file {bad[:12]} is damaged or "
                             "missing; cannot tell which packs hold needed data (nothing was deleted)")
    result = GcResult(index_files_before=len(index.files) + len(index.damaged) + len(index.missing),
                      git_packs_before=len(view.git_packs()), keep_replaced=view.retires and grace > 0)
    retired = view.retired()
    result.retired_before = {key: when for key, (when, _info) in retired.items()}
    survivors = result.survivors
    local = view.name is None and view.store.root is not None
    gone = retired_packs(view.store, packs, index.packs, retired)
    for pid, pack in packs.items():
        entries = index.packs.get(pid) or pack.footer
        old = pack.mtime is not None and now - pack.mtime >= grace
        needed = bool(entries) and any(e.chunk_id in reached.users for e in entries)
        if pid in gone and (not needed or _held_elsewhere(  # its needed chunks moved: it waits, then goes
                index, pid, [e for e in entries if e.chunk_id in reached.users], packs)):
            key = view.store.pack_key(pid)
            _retired(result, key, retired[key][0], pack.mtime, now, grace, pid, pack.size)
        elif entries is None and pack.error:  # contents unknown: never delete what cannot be read
            result.kept_packs += 1
        elif pid not in index.packs and entries and old and _held_elsewhere(index, pid, entries, packs):
            result.dropped_packs[pid] = pack.size  # left by a repack killed after it indexed the copies
        elif needed:
            survivors[pid] = entries
            result.kept_packs += 1
            if _regroupable(entries, reached.users, old if local else pid in index.packs):
                result.regroup[pid] = entries  # small, or holding dropped data: its needed chunks move
        elif pack.mtime is None or now - pack.mtime < grace:
            if entries:
                survivors[pid] = entries
            result.kept_young += 1
        else:
            result.dropped_packs[pid] = pack.size
    for pid, entries in index.packs.items():  # a missing pack holding needed chunks: keep naming it (fsck says)
        if pid not in packs and any(e.chunk_id in reached.users for e in entries):
            survivors[pid] = entries
    for key, (when, info) in retired.items():  # the retired index files and git packs (packs: above)
        if info is not None:
            _retired(result, key, when, info.mtime, now, grace)
    for key, info in sorted(view.leftovers().items()):
        if info.mtime is not None and now - info.mtime >= max(grace, view.leftover_age):
            result.dropped_files.append(key)
    if len(result.regroup) < 2 and all(all(e.chunk_id in reached.users for e in entries)
                                       for entries in result.regroup.values()):
        result.regroup = {}  # one small pack alone gains nothing from a rewrite
    result.needed = set(reached.users) if result.regroup else set()
    result.index_rewritten = (len(index.files) > 1 or not intact or set(survivors) != set(index.packs)
                              or bool(result.regroup))
    return result


def _regroupable(entries, users, movable: bool) -> bool:
    """Whether a pack's needed chunks move into new packs: it is small, or holds data no ref needs.

    Locally only packs older than the grace period move; on a remote, any pack
    its index names (what it replaces stays readable for the grace period).
    """
    from artrepo.storage.repack import full

    return movable and (not full(entries) or not all(e.chunk_id in users for e in entries))


def _retired(result: GcResult, key: str, when: int, mtime: float | None, now: float, grace: float,
             pid: bytes | None = None, size: int = 0) -> None:
    """A retired object goes once both its retirement and its own age are older than the grace period (a store
    that keeps no time keeps it); until then it stays retired."""
    if mtime is not None and now - max(when, mtime) >= grace:
        if pid is None:
            result.dropped_files.append(key)
        else:
            result.dropped_packs[pid] = size
    else:
        result.retired[key] = when


def _table_changes(result: GcResult) -> bool:
    """Whether gc writes a new index list (a remote: a new ref table)."""
    return (result.index_rewritten or result.git_pack is not None or bool(result.retiring)
            or result.retired != result.retired_before)


def _held_elsewhere(index, pid: bytes, entries, packs) -> bool:
    """Whether every chunk of an unindexed pack is indexed in another pack that exists."""
    for e in entries:
        found = index.lookup(e.chunk_id)
        if found is None or found[0] == pid or found[0] not in packs:
            return False
    return True


def _regroup(view, result: GcResult) -> set[bytes]:
    """Move the needed chunks of the packs planned for regrouping into new packs (durable); their ids."""
    if not result.regroup:
        return set()
    from artrepo.storage.repack import regroup

    written = regroup(view.store, result.regroup, keep=result.needed)
    for pid, entries in result.regroup.items():
        if pid not in written:
            result.survivors.pop(pid, None)
            if result.keep_replaced:
                result.retiring.append(view.store.pack_key(pid))
            else:
                result.dropped_packs[pid] = sum(e.length for e in entries)
    result.survivors.update(written)
    for pid in written:  # written before by a gc killed after its regroup, or the very bytes of a retired pack
        result.retired.pop(view.store.pack_key(pid), None)
    result.written_packs = len(written)
    result.kept_packs += len(written) - len(result.regroup)
    return set(written)


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


def _replace_index(view, result: GcResult, now: float) -> bool:
    """One merged index of the surviving packs (and the merged git pack), adopted by the view; then the index
    files it replaces go (a remote: are retired, unless the grace period is 0)."""
    index = view.store.index
    old = list(index.files) + list(index.damaged) + list(index.missing)
    names = list(index.named or old)
    if result.index_rewritten:
        new = index.write(result.survivors) if result.survivors else None
        names = [new] if new else []
        replaced = [index_key(name) for name in old if name != new and name not in index.missing]
    else:
        new, replaced = None, []
    if result.git_pack is not None:
        replaced += [key for name, key in view.git_packs().items() if name != result.git_pack]
    if view.retires:
        (result.retiring if result.keep_replaced else result.dropped_files).extend(replaced)
    retired = {**result.retired, **dict.fromkeys(result.retiring, int(now))}
    if not view.adopt_index(names, [result.git_pack] if result.git_pack else None, retired):
        return False
    result.index_file = new
    if not view.retires:  # a local store's readers re-read the index folder: nothing waits for them
        for key in replaced:
            view.store.backend.delete(key)
    return True


def pack_git(repo: Repository, grace: float) -> bool:
    """Pack refs and git objects; never prune objects younger than the grace period.

    Refs are packed by artrepo itself (one stripe lock at a time: 100,000 refs
    stay far below the open-files limit) and loose objects into git packs
    (`Repository` upkeep), then stock `git gc` repacks every object with
    deltas and prunes unreachable ones older than the grace period. Reflogs
    of aliases (their history) are never expired; those older artrepo
    versions wrote for create-only refs (one file per version) are removed.
    Holds the maintenance lock, so no automatic packing runs meanwhile; saves go on.
    """
    from artrepo.repository.upkeep import maintain

    maintain(repo, chunks=False)
    _drop_create_only_reflogs(repo)
    git = shutil.which("git")
    if git is None:
        return False
    base = [git, "-c", "gc.auto=0", "--git-dir", str(repo.git_dir)]
    prune = "now" if grace <= 0 else f"{int(grace)}.seconds.ago"
    with flock(layout.maintenance_lock(repo.git_dir)):
        subprocess.run([*base, "-c", "gc.packRefs=false", "-c", "gc.reflogExpire=never",
                        "-c", "gc.reflogExpireUnreachable=never", "-c", "gc.worktreePruneExpire=never",
                        "gc", "--quiet", f"--prune={prune}"], check=True, capture_output=True, timeout=3600)
    repo.objects.packs(refresh=True)
    return True


def _drop_create_only_reflogs(repo: Repository) -> None:
    """Reflogs of version, run, head, pipeline and cache refs: one line each, one file per ref (artrepo < 0.3)."""
    logs = repo.git_dir / "logs" / layout.PREFIX
    for kind in ("v", "runs", "heads", "pipelines", "cache"):
        shutil.rmtree(logs / kind, ignore_errors=True)
