"""pull and clone: git objects, then verified data, then refs (origins before refs).

    pull(repo, get_remote(repo, "origin"), metadata_only=True)

Nothing unverified becomes visible (verify.py): a version, run or alias that
does not verify is refused, everything else is pulled, and `PullRefused`
(exit 3) names what was refused.

Refs are adopted by class (negotiate.py): remote version labels win and
local versions not on the remote are renumbered after them (and reported);
aliases move when only the remote moved them; annotation chains are merged;
the runs that arrive join their pipeline's chain and the cache (Repository.adopt_runs).
Every version that arrives gets an `origins/<id>` file naming the remote
before its ref is created, so it is never trusted by accident.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from artrepo.gitdb import layout
from artrepo.errors import ArtrepoError, ConflictError, IntegrityError, NotFoundError, UserError
from artrepo.heap import paused_gc
from artrepo.remotes.negotiate import alias_on_pull, create_only, group_versions, merge_labels, ref_class
from artrepo.remotes.progress import Silent
from artrepo.remotes.push import TransferResult
from artrepo.remotes.select import needed_chunks, parse_all, pick, reached_versions
from artrepo.remotes.session import RemoteSession
from artrepo.remotes.state import RemoteState
from artrepo.remotes.verify import Refusals, check_refs, fetch_verified, read_ahead


class PullRefused(IntegrityError):
    """Some refs of the remote did not verify and were not pulled; `result` says what was."""

    def __init__(self, message: str, result: TransferResult):
        super().__init__(message)
        self.result = result


def pull(repo, remote, refs=(), metadata_only: bool = False, progress=None, backend=None,
         state: RemoteState | None = None) -> TransferResult:
    """Fetch refs and records from `remote`, and the data of what `refs` names (everything by default).
    `state`: the remote's ref table if the caller has just read it (through `backend`)."""
    parsed = parse_all(refs)
    session = RemoteSession(repo, remote, backend)
    state = state or session.read_state()
    if not state.exists:
        raise NotFoundError(f"remote {remote.name} ({remote.url}) holds no artrepo repository yet; push to it first")
    try:
        with paused_gc():
            return _pull(repo, session, state, parsed, metadata_only, progress or Silent())
    finally:
        repo.objects.release()  # the imported objects, held in memory while the pull reads them


def _pull(repo, session, state: RemoteState, parsed: list, metadata_only: bool, progress) -> TransferResult:
    remote = session.remote
    result = TransferResult(remote.name)
    wanted = pick(state.refs, parsed, f"remote {remote.name}") if parsed else dict(state.refs)
    here = set(repo.published_refs().values())
    arriving = sorted({oid for ref, oid in state.refs.items() if ref_class(ref) == "version" and oid not in here})
    sound: dict = {}
    # each pack read once, from memory, and the arriving versions' content checked while git checks the pack
    session.fetch_git(state, hold=True, meanwhile=lambda: sound.update(read_ahead(repo, arriving)))
    session.check_reachable(state)
    wanted.update(reached_versions(repo, wanted, state.refs))
    if layout.ANNOTATIONS in state.refs:  # deletions first: a version deleted on either side is not adopted
        repo.merge_annotations(state.refs[layout.ANNOTATIONS], remote.name)
    state = _without_deleted(repo, state)
    wanted = {ref: oid for ref, oid in wanted.items() if ref in state.refs}
    refused = Refusals(remote.name)
    manifests = check_refs(repo, state.refs, refused, sound)
    if not metadata_only:
        _fetch_data(repo, session, state, refused.accepted(wanted), manifests, progress, result, refused)
    accepted = RemoteState(refused.accepted(state.refs), state.git_packs, state.index_files, state.token,
                           tops=state.tops)  # the remote's counters (adoption reads only the refs)
    _adopt_versions(repo, session, accepted, result)
    _adopt_other_refs(repo, session, accepted, result)
    _adopt_runs(repo, accepted)
    session.update_tracked(accepted.refs, repo.refs.all(layout.ALIASES + "/"))  # the aliases it compares
    if refused:
        raise PullRefused(refused.message(), result)
    if result.conflicts:
        raise ConflictError("; ".join(result.conflicts))
    return result


def _without_deleted(repo, state: RemoteState) -> RemoteState:
    """The remote's refs minus those naming a version deleted here or on the remote; local versions deleted
    elsewhere are unpublished (a deletion travels in the annotations, docs/format.md §7)."""
    repo.unpublish_deleted(set(state.refs.values()))
    published = set(repo.published_refs().values())
    gone = repo.deleted_among(oid for ref, oid in state.refs.items()
                              if ref_class(ref) in ("version", "alias") and oid not in published)
    if not gone:
        return state
    return RemoteState({ref: oid for ref, oid in state.refs.items() if oid not in gone}, state.git_packs,
                       state.index_files, state.token)


def _fetch_data(repo, session, state: RemoteState, wanted: dict[str, str], manifests: dict, progress, result,
                refused: Refusals) -> None:
    versions = sorted({oid for ref, oid in wanted.items() if ref_class(ref) == "version"})
    per_version = {vid: needed_chunks(repo, [vid], manifests) for vid in versions}
    needed = {c: n for chunks in per_version.values() for c, n in chunks.items()}
    missing = {vid: [c for c in chunks if not repo.chunks.has(c)] for vid, chunks in per_version.items()}
    missing = {vid: chunks for vid, chunks in missing.items() if chunks}
    absent = {c for chunks in missing.values() for c in chunks}
    result.bytes_logical = sum(needed.values())
    result.bytes_already = result.bytes_logical - sum(needed[c] for c in absent)
    if not missing:
        return
    remote = session.store(state.index_files, strict=False)  # a damaged index file costs only its versions
    moved = fetch_verified(repo, remote, missing, state.refs, refused, progress)
    if moved is not None:
        result.bytes_sent = moved.bytes
        result.packs = moved.packs


def _adopt_versions(repo, session, state: RemoteState, result: TransferResult) -> None:
    """Every name's labels as the remote has them (local versions renumbered after), all names at once.

    The names' locks are held together; origins of the arriving versions are
    written (one file) before any ref; new labels are created in one ref
    transaction; then the heads of the names that changed are recomputed.
    A name with no version here (all of them, in a clone) takes the remote's labels as they are.
    """
    remote_name = session.remote.name
    remote_versions = group_versions(state.refs)
    with repo.lock_names(remote_versions) as locks:
        finals, arriving, current = {}, {}, {}
        for name, theirs in sorted(remote_versions.items()):
            mine = current[name] = repo.version_refs(name)
            if theirs.items() <= mine.items():
                continue  # every remote label is here already, as it is there
            final = dict(theirs) if not mine else _placed(repo, name, theirs, mine, remote_name, result)
            published = set(mine.values())
            new = [oid for oid in final.values() if oid not in published]
            arriving.update((oid, remote_name) for oid in new)
            if final != mine:
                finals[name] = final
            result.versions += len(new)
        repo.origins.add(arriving)  # before the refs: a pulled version is never trusted by accident
        labels = repo.set_labels_many(finals, "pull", locks, current)
        repo.update_heads(finals, labels)  # under the locks: the labels are as they were just set


def _placed(repo, name: str, theirs: dict[str, str], mine: dict[str, str], remote_name: str,
            result: TransferResult) -> dict[str, str]:
    """The labels of `name` once the local versions are placed after the remote's (merge_labels)."""
    m = merge_labels(theirs, mine, set(), lambda oid: repo.record(oid).version is not None,
                     lambda a, b: repo.record(a).content_hash == repo.record(b).content_hash)
    final = dict(m.labels)
    for label in m.conflicts + m.same_content:
        final[label] = mine[label]  # locally, the local custom version keeps its label
    result.renumbered += [f"local {name}:{old} \u2192 {name}:{new}" for old, new in m.renumbered]
    result.conflicts += [f"version {name}:{lb} exists locally with other content than on remote {remote_name}"
                         for lb in m.conflicts]
    return final


def _adopt_other_refs(repo, session, state: RemoteState, result: TransferResult) -> None:
    """Aliases, runs and other create-only refs by class, in one ref transaction; annotation chains merged."""
    others = sorted((ref, kind, oid) for ref, oid in state.refs.items() if (kind := ref_class(ref)) != "version")
    if not others:
        return
    mine = repo.published_refs()
    tracked = session.tracked()
    taken: dict[str, tuple[str | None, str]] = {}
    for ref, kind, theirs in others:
        ours = mine.get(ref)
        if kind == "annotations":
            if repo.merge_annotations(theirs, session.remote.name) != ours:
                result.refs += 1
            continue
        if kind == "alias":
            decision = alias_on_pull(ours, theirs, tracked.get(ref))
        elif kind == "create-only":
            decision = create_only(ours, theirs)
        else:
            continue
        if decision == "take":
            taken[ref] = (ours, theirs)
        elif decision == "conflict":
            result.conflicts.append(f"{ref[len(layout.PREFIX):]} differs locally and on remote "
                                    f"{session.remote.name} (both changed)")
    if not taken:
        return
    # a run is never trusted by accident: its cache entries (runtime.driver); origins before the refs
    repo.origins.add({theirs: session.remote.name for ref, (_ours, theirs) in taken.items()
                      if layout.ref_kind(ref) == "run"})
    with repo.refs.transaction(list(taken)) as txn:
        for ref, (ours, theirs) in taken.items():
            if txn.set(ref, lambda cur, o=ours, t=theirs: t if cur == o else None,
                       f"pull from {session.remote.name}") == theirs:
                result.refs += 1
        txn.commit()


def _adopt_runs(repo, state: RemoteState) -> None:
    """Chains, heads/runs and cache refs reach the remote's runs (those whose run ref agrees here)."""
    local = repo.run_ids()
    start = len(layout.RUNS) + 1
    repo.adopt_runs([oid for ref, oid in state.refs.items()
                               if layout.ref_kind(ref) == "run" and local.get(ref[start:]) == oid])


def clone(url: str, directory: Path | None = None, endpoint_url: str | None = None, trusted: bool = False,
          progress=None) -> tuple[Path, TransferResult]:
    """init + remote `origin` + pull; the folder is removed again if the pull fails."""
    from artrepo.remotes.config import Remote, add_remote, cache_dir, normalize_url
    from artrepo.remotes.reftable import TableCache
    from artrepo.storage.backend import open_backend
    from artrepo.remotes.state import read_state
    from artrepo.repository import Repository

    url = normalize_url(url)
    target = Path(directory) if directory else Path(url.rstrip("/").rsplit("/", 1)[-1] or "artrepo")
    target = target.resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"destination {target} already exists and is not an empty folder")
    backend = open_backend(url, endpoint_url)
    state = read_state(backend)
    if not state.exists:
        raise NotFoundError(f"no artrepo repository at {url}")
    created = not target.exists()
    try:
        with paused_gc():  # the whole clone: right after its pull the collector would walk it all at once
            repo = Repository.init(target)
            try:
                add_remote(repo, "origin", url, endpoint_url, trusted)
                result = pull(repo, Remote("origin", url, endpoint_url, trusted), progress=progress,
                              backend=backend, state=state)
                if state.base is not None:  # the base table, checked on the way, is kept for the first push
                    TableCache(cache_dir(repo, "origin") / "tables").add(state.base, bytes(state.table.data))
            finally:
                repo.close()
    except PullRefused:
        raise  # what verified was pulled: the clone stays
    except (ArtrepoError, OSError):
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise
    return target, result
