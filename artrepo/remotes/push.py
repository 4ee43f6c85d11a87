"""push: data, then index, then git objects, then one conditional write of the ref table.

    push(repo, get_remote(repo, "origin"))

Deciding what to send costs one GET of the ref table plus the remote index
files not cached yet; a push with nothing new makes exactly that one
request. If another pusher wins the conditional write, we re-read, re-plan
(auto-increment versions are renumbered after the remote's) and try again;
what was uploaded stays and is reused.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from artrepo.errors import ConflictError
from artrepo.gitdb.packs import build_pack
from artrepo.remotes.gitpacks import git_pack_key
from artrepo.storage.ids import file_name
from artrepo.gitdb.layout import ANNOTATIONS
from artrepo.remotes.negotiate import ref_class
from artrepo.remotes.pushplan import PushPlan, noted, plan_changes, plan_push
from artrepo.remotes.progress import Silent
from artrepo.remotes.select import needed_chunks, parse_all, pick, reached_versions
from artrepo.remotes.session import RemoteIndexGone, RemoteSession
from artrepo.remotes.state import RemoteState, write_state
from artrepo.storage.transfer import transfer

MAX_ATTEMPTS = 30


@dataclass
class TransferResult:
    remote: str
    versions: int = 0                 # versions published (push) or received (pull)
    refs: int = 0                     # refs written on the other side
    renumbered: list[str] = field(default_factory=list)
    bytes_sent: int = 0               # bytes over the wire (packs)
    bytes_already: int = 0            # logical bytes the other side already had
    bytes_logical: int = 0            # logical bytes of the data transferred or skipped
    packs: int = 0
    conflicts: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not (self.refs or self.versions or self.bytes_sent or self.renumbered)


class Pusher:
    def __init__(self, repo, remote, refs=(), progress=None, backend=None, index_files=()):
        self.repo = repo
        self.session = RemoteSession(repo, remote, backend)
        self.parsed = parse_all(refs)
        self.progress = progress or Silent()
        self.result = TransferResult(remote.name)
        self.sent_chunks: set[bytes] = set()
        self.shipped_tips: set[str] = set()
        self.new_git: list[str] = []
        # index files already in the remote's store that its ref table does not list yet (those the
        # workers of a run on a stack wrote): listed by this push, their chunks never sent again
        self.new_index: list[str] = list(index_files)
        self.local: set[str] | None = None  # the commits local refs name (here: no lookup needed)

    def selection(self, state: RemoteState, now) -> tuple[dict[str, str], dict[str, str]]:
        all_local = now.refs()
        theirs = state.get(ANNOTATIONS)
        if theirs is not None and self.repo.objects.contains(theirs):  # union with the remote's chain first
            self.repo.merge_annotations(theirs, self.session.remote.name)
            self.repo.unpublish_deleted(set(state.refs.values()))  # deleted by another clone: not sent again
            all_local = self.repo.published_refs()
        self.local = set(all_local.values())
        if not self.parsed:
            return all_local, all_local
        chosen = pick(all_local, self.parsed, "this repository")
        chosen.update(reached_versions(self.repo, chosen, all_local))
        return chosen, all_local

    def run(self) -> TransferResult:
        session = self.session
        since = None if self.parsed else session.synced()
        for _attempt in range(MAX_ATTEMPTS):
            state = session.read_state()
            session.fetch_git(state)
            now = session.snapshot()
            try:
                done = self._attempt(state, since, now)
            finally:
                now.discard()
            if done:
                return self.result
        raise ConflictError(f"remote {session.remote.name} kept changing during {MAX_ATTEMPTS} attempts; try again")

    def _attempt(self, state: RemoteState, since, now) -> bool:
        """Plan against `state` and publish; False if the remote changed meanwhile (plan again)."""
        changed = plan = None
        if since is not None:
            changed = since.changes(now)
            plan = plan_changes(self.repo, changed, state, since, now, self.session.tracked(),
                                self.session.remote.name)
        if plan is None:  # compare everything
            changed = None
            selection, all_local = self.selection(state, now)
            plan = PushPlan() if selection == state.refs else plan_push(
                self.repo, selection, all_local, state, self.session.tracked(), self.session.remote.name)
        if plan.conflicts:
            raise ConflictError("; ".join(plan.conflicts))
        if not plan.updates and not plan.removals:
            self._finish(plan, state, now, changed)
            return True
        try:
            self._send_data(plan, state)
        except RemoteIndexGone:
            return False  # a remote gc rewrote the index list since we read the table: re-read, re-plan
        self._send_git(plan, state, changed is not None)
        new = write_state(self.session.backend, state,
                          state.changed(plan.updates, plan.removals, self.new_git, self.new_index), self.session.tables)
        if new is None:
            return False
        self.result.versions = sum(ref_class(r) == "version" for r in plan.updates)
        self.result.refs = len(plan.updates) - self.result.versions + len(plan.removals)
        self.result.renumbered = plan.renumbered
        self.session.mark_imported(self.new_git)
        self._finish(plan, new, now, changed)
        return True

    def _send_data(self, plan: PushPlan, state: RemoteState) -> None:
        new_versions = sorted({oid for ref, oid in plan.updates.items() if ref_class(ref) == "version"})
        needed = needed_chunks(self.repo, new_versions)
        if not needed:
            return
        remote = self.session.store(state.index_files + [i for i in self.new_index if i not in state.index_files])
        self.result.bytes_logical = sum(needed.values())
        self.result.bytes_already = sum(n for c, n in needed.items() if remote.has(c))
        missing = [c for c in needed if not remote.has(c) and c not in self.sent_chunks]
        if not missing:
            return
        moved = transfer(self.repo.chunks, remote, missing, self.progress, "push")
        self.new_index.append(moved.index_file)
        self.sent_chunks.update(missing)
        self.result.bytes_sent += moved.bytes
        self.result.packs += moved.packs

    def _send_git(self, plan: PushPlan, state: RemoteState, few: bool) -> None:
        tips = set(plan.updates.values()) - self.shipped_tips
        if not tips:
            return
        exclude = _boundary(self.repo, tips, state) if few else None
        if exclude is None:  # the remote's every tip: git finds what it lacks
            exclude = set(state.refs.values())
        present = exclude if few else (set(self.repo.published_refs().values()) if self.local is None
                                       else self.local)
        data = build_pack(self.repo.objects, tips, exclude | self.shipped_tips, present)
        self.shipped_tips |= tips
        if data is None:
            return
        name = file_name(data)
        self.session.backend.put_content(git_pack_key(name), data)
        self.result.bytes_sent += len(data)
        self.new_git.append(name)

    def _finish(self, plan: PushPlan, remote: RemoteState, now, changed: dict | None) -> None:
        """Labels renumbered on the remote move here; aliases both sides agree on are tracked; after a push of
        everything, the local refs it compared become what the next push compares with."""
        for name, moves in plan.moves.items():
            self.repo.move_labels(name, moves)
        local = now.refs() if changed is None else {ref: oid for ref, oid in changed.items() if oid is not None}
        self.session.update_tracked(remote, local)
        if self.parsed:
            return
        if changed is None:
            refs = remote.refs
            disagree = {ref for ref, oid in local.items() if refs.get(ref) != oid}
        else:
            disagree = {ref for ref, oid in local.items() if remote.get(ref) != oid}
        now.save(self.session.cache / "synced", disagree, noted(remote))


def _boundary(repo, tips: set[str], state: RemoteState) -> set[str] | None:
    """The commits the remote has that the new `tips` build on (their parents outside `tips`), or None when
    a parent is not a commit some remote ref names (then the git pack excludes every remote tip)."""
    out = set()
    for tip in tips:
        for parent in repo.objects.commit(tip).parent_ids:
            if parent in tips or parent in out:
                continue
            if not state.publishes(parent):
                return None
            out.add(parent)
    return out


def push(repo, remote, refs=(), progress=None, backend=None, index_files=()) -> TransferResult:
    """Send what `remote` lacks of the local repository (or of the named references).

    `index_files`: index files written into the remote's store since its ref table was read (by the
    workers of a run on a stack), listed in the table by this push.
    """
    return Pusher(repo, remote, refs, progress, backend, index_files).run()
