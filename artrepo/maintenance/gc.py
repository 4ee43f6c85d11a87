"""`artrepo gc`: remove packs no ref needs, never anything a save in progress may need.

The rule (docs/reliability.md, "gc"): a pack is deleted only when none of its
chunks is in a manifest that a ref points at AND its file is older than the
grace period. A save writes packs, then the index, then git objects, then the
ref; everything it wrote is younger than the grace period until the ref
exists, as long as a save takes less than the grace period. gc holds the
exclusive `locks/gc` flock; writers that hold it shared (see the report to
the lead) are never raced at all.

Order of deletion, so that a crash at any point leaves a valid repository:
the merged index (naming only surviving packs) is written and fsynced first,
then the old index files are removed, then the dropped packs.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from artrepo.errors import UserError
from artrepo.gitdb import layout
from artrepo.maintenance.inventory import PackFile, artrepo_refs, pack_files
from artrepo.maintenance.reach import reachable_chunks
from artrepo.repository import Repository
from artrepo.atomic import flock, fsync_dir
from artrepo.storage.packfile import PackEntry

TEMP_MIN_AGE = 24 * 3600
LOCK_WAIT = float(os.environ.get("ARTREPO_GC_LOCK_WAIT", "60"))


@dataclass
class GcResult:
    dropped_packs: list[PackFile] = field(default_factory=list)
    kept_young: int = 0  # unreferenced packs kept because they are younger than the grace period
    kept_packs: int = 0
    index_files_before: int = 0
    index_rewritten: bool = False
    stale_tmp: list[Path] = field(default_factory=list)
    git_packed: bool = False

    @property
    def freed_bytes(self) -> int:
        return sum(p.size for p in self.dropped_packs)


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


def collect(repo: Repository, *, grace: float, dry_run: bool = False, ignore_refs=frozenset(),
            now: float | None = None) -> GcResult:
    """Plan (and unless `dry_run`, carry out) the removal of unneeded packs and temp files."""
    now = time.time() if now is None else now
    store = repo.chunks
    store.index.refresh()
    index = store.index
    needed = reachable_chunks(repo, ignore_refs=ignore_refs) | recently_deleted_chunks(repo, now - grace)
    packs, _stray = pack_files(store)
    indexed: dict[bytes, list[PackEntry]] = {}
    for by_pack in index.by_file.values():
        for pid, entries in by_pack.items():
            indexed.setdefault(pid, entries)
    result = GcResult(index_files_before=len(index.by_file) + len(index.damaged))
    survivors: dict[bytes, list[PackEntry]] = {}
    for pid, pack in packs.items():
        entries = pack.entries if pack.entries is not None else indexed.get(pid)
        if entries is None:  # contents unknown: never delete what cannot be read
            result.kept_packs += 1
            continue
        if any(e.chunk_id in needed for e in entries):
            survivors[pid] = entries
            result.kept_packs += 1
        elif now - pack.mtime < grace:
            survivors[pid] = entries
            result.kept_young += 1
        else:
            result.dropped_packs.append(pack)
    for pid, entries in indexed.items():  # a missing pack that holds needed chunks: keep naming it (fsck reports it)
        if pid not in packs and any(e.chunk_id in needed for e in entries):
            survivors[pid] = entries
    # A writer's temp files are in use for as long as it runs, and nothing says whether it still does:
    # they are removed only when older than the grace period and at least TEMP_MIN_AGE.
    result.stale_tmp = _stale_temp_files(repo, now - max(grace, TEMP_MIN_AGE))
    result.index_rewritten = bool(result.dropped_packs or index.damaged or len(index.by_file) > 1
                                  or set(survivors) - set(indexed) or set(indexed) - set(survivors))
    if dry_run:
        return result
    if result.index_rewritten:
        _replace_index(store, survivors, old_files=sorted(index.by_file) + sorted(index.damaged))
    for pack in result.dropped_packs:
        with contextlib.suppress(FileNotFoundError):
            pack.path.unlink()
    for folder in {p.path.parent for p in result.dropped_packs}:
        fsync_dir(folder)
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
    for path in result.stale_tmp:
        _remove(path)
    return result


def recently_deleted_chunks(repo: Repository, since: float) -> set[bytes]:
    """Chunks of versions deleted after `since` (seconds): kept until a gc runs a grace period after."""
    out: set[bytes] = set()
    for version_id, when_ns in repo.deletions().items():
        if when_ns / 1e9 > since:
            out.update(repo.manifest(version_id).chunk_ids())
    return out


def _replace_index(store, survivors: dict[bytes, list[PackEntry]], old_files: list[str]) -> None:
    """Write one merged index of the surviving packs, then remove the files it replaces."""
    new_name = store.index.write(survivors) if survivors else None
    folder = store.root / "index"
    fsync_dir(folder)
    for name in old_files:
        if name != new_name:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
    fsync_dir(folder)


def _stale_temp_files(repo: Repository, before: float) -> list[Path]:
    """Leftovers of crashed writers: `.artrepo/tmp/*` and `.tmp-*` files, older than the grace period."""
    out = []
    candidates = list(layout.tmp_dir(repo.git_dir).glob("*"))
    for folder in (repo.chunks.root / "index", *(repo.chunks.root / "packs").glob("*")):
        candidates += folder.glob(".tmp-*")
    for path in candidates:
        with contextlib.suppress(FileNotFoundError):
            if path.lstat().st_mtime < before:
                out.append(path)
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for folder, _dirs, _files in os.walk(path):
            with contextlib.suppress(OSError):
                os.chmod(folder, 0o755)
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


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
