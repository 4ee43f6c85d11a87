"""`artrepo gc --remote NAME`: remove remote packs no remote ref reaches, safely against pushers.

The rule (docs/reliability.md, "Remote gc"):

1. Needed chunks are those of every manifest a ref of the ref table points
   at. If any ref, record or index file cannot be read, nothing is deleted.
2. A pack is removed only when it holds no needed chunk (packs no index file
   names hold none that the remote can serve) AND it is older than the grace
   period. The same age rule removes index files and git packs the ref table
   does not name (left by killed pushes).
3. When a removed pack is named by an index file, the index list is
   replaced first, by one conditional write of the ref table (If-Match on
   what gc read), naming one merged index of the surviving packs. If a
   pusher wrote in between, gc re-reads and re-plans. Only after the write
   succeeded is anything deleted.

Why a concurrent push loses nothing: a push uploads packs, then its index,
then its git pack, then writes the ref table conditionally. What it uploads
is younger than the grace period. A chunk it did not upload because the
remote's index listed it is in a pack gc either keeps, or drops after
changing the ref table, which makes the pusher's conditional write fail;
the pusher then re-plans against the new index list and uploads the chunk.
A pack an interrupted push left is reused only while younger than
`REUSE_WINDOW` (remotes/packs.py); older, it is uploaded again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from artrepo.errors import ConflictError, IntegrityError
from artrepo.maintenance.remote_view import open_view, reach

MAX_ATTEMPTS = 10


@dataclass
class RemoteGcResult:
    dropped_packs: dict[bytes, int] = field(default_factory=dict)  # pack id -> size
    dropped_files: list[str] = field(default_factory=list)  # unlisted index files and git packs
    kept_packs: int = 0
    kept_young: int = 0
    index_rewritten: bool = False
    index_files_before: int = 0

    @property
    def freed_bytes(self) -> int:
        return sum(self.dropped_packs.values())


def collect_remote(repo, remote_name: str, *, grace: float, dry_run: bool = False,
                   now: float | None = None) -> RemoteGcResult:
    """Plan (and unless `dry_run`, carry out) the removal of what no ref of the remote needs."""
    for _attempt in range(MAX_ATTEMPTS):
        with open_view(repo, remote_name) as view:
            result = _plan(view, grace, time.time() if now is None else now)
            if dry_run:
                return result
            if result.index_rewritten and not _rewrite_index_list(view, result):
                continue  # a pusher wrote the ref table since we read it: re-read, re-plan
            _delete(view, result)
            return result
    raise ConflictError(f"remote {remote_name} kept changing during {MAX_ATTEMPTS} attempts; gc deleted nothing")


def _plan(view, grace: float, now: float) -> RemoteGcResult:
    from artrepo.remotes.gitpacks import git_pack_key

    reached = reach(view)
    if view.problems:
        message, _ = view.problems[0]
        raise IntegrityError(f"remote {view.name}: {message}; cannot tell which data it needs: run "
                             f"'artrepo fsck --remote {view.name}' (nothing was deleted)")
    indexed = view.indexed()
    result = RemoteGcResult(index_files_before=len(view.state.index_files))

    def old(info) -> bool:
        return info.mtime is not None and now - info.mtime >= grace

    for pid, info in view.packs.items():
        entries = indexed[pid][1] if pid in indexed else []
        if any(e.chunk_id in reached.users for e in entries):
            result.kept_packs += 1
        elif not old(info):
            result.kept_young += 1
        else:
            result.dropped_packs[pid] = info.size
    result.index_rewritten = any(pid in indexed for pid in result.dropped_packs)
    listed = {f"index/{n}" for n in view.state.index_files} | {git_pack_key(n) for n in view.state.git_packs}
    for key, info in sorted({**view.index_files, **view.git_files}.items()):
        if key not in listed and old(info):
            result.dropped_files.append(key)
    return result


def _rewrite_index_list(view, result: RemoteGcResult) -> bool:
    """One merged index of the surviving indexed packs, then the ref table naming only it (conditional)."""
    from artrepo.remotes.packs import upload_index
    from artrepo.remotes.state import RemoteState, write_state

    survivors = {pid: entries for pid, (_f, entries) in view.indexed().items() if pid not in result.dropped_packs}
    merged = [upload_index(view.backend, survivors)] if survivors else []
    state = view.state
    if not write_state(view.backend, state, RemoteState(state.refs, state.git_packs, merged)):
        return False
    result.dropped_files += [f"index/{n}" for n in state.index_files if n not in merged]
    return True


def _delete(view, result: RemoteGcResult) -> None:
    # Only after the ref table stopped naming them (see _rewrite_index_list).
    from artrepo.remotes.packs import pack_key

    for pid in result.dropped_packs:
        view.backend.delete(pack_key(pid))
    for key in result.dropped_files:
        view.backend.delete(key)
