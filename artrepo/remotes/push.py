"""push: data, then index, then git objects, then one conditional write of the ref table.

    push(repo, get_remote(repo, "origin"))

Deciding what to send costs one GET of the ref table plus the remote index
files not cached yet; a push with nothing new makes exactly that one
request. If another pusher wins the conditional write, we re-read, re-plan
(auto-increment versions are renumbered after the remote's) and try again;
what was uploaded stays and is reused.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from artrepo.errors import ConflictError
from artrepo.remotes.gitpacks import build_git_pack, git_pack_key, pack_name
from artrepo.gitdb.layout import ANNOTATIONS, PREFIX, split_version_ref, version_prefix, version_ref
from artrepo.remotes.negotiate import alias_on_push, create_only, group_versions, merge_labels, ref_class
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


@dataclass
class PushPlan:
    updates: dict[str, str] = field(default_factory=dict)
    removals: set[str] = field(default_factory=set)  # remote refs naming versions deleted here
    moves: dict[str, list] = field(default_factory=dict)
    renumbered: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def plan_push(repo, selection: dict[str, str], all_local: dict[str, str], state: RemoteState,
              tracked: dict[str, str], remote_name: str) -> PushPlan:
    """What to send: decided for the refs on which the two sides differ, and the names those belong to.

    A ref with the same value on both sides decides nothing (an alias, run or
    annotation chain is kept; a name whose every version ref agrees keeps its
    labels), so the work is proportional to the difference, not to the table.
    """
    plan = PushPlan()
    differ = {ref for ref, _oid in selection.items() ^ state.refs.items()}
    published = set(all_local.values())
    candidates = {ref: state.refs[ref] for ref in differ
                  if ref in state.refs and ref_class(ref) in ("version", "alias") and state.refs[ref] not in published}
    gone = repo.deleted_among(candidates.values()) if candidates else set()
    plan.removals = {ref for ref, oid in candidates.items() if oid in gone}
    names = {split_version_ref(ref)[0] for ref in differ if ref_class(ref) == "version"}
    selected = group_versions(_under(selection, names))
    remote_versions = group_versions(_under({r: o for r, o in state.refs.items() if r not in plan.removals}
                                            if plan.removals else state.refs, selected))
    local_versions = selected if selection is all_local else group_versions(_under(all_local, selected))
    for name, labels in sorted(selected.items()):
        on_remote = remote_versions.get(name, {})
        m = merge_labels(on_remote, labels, set(local_versions.get(name, {})),
                         lambda oid: repo.record(oid).version is not None,
                         lambda a, b: repo.record(a).content_hash == repo.record(b).content_hash)
        plan.conflicts += [f"version {name}:{lb} exists on remote {remote_name} with other content" for lb in m.conflicts]
        plan.updates.update({version_ref(name, lb): oid for lb, oid in m.labels.items() if on_remote.get(lb) != oid})
        if m.moves:
            plan.moves[name] = m.moves
        plan.renumbered += [f"{name}:{old} \u2192 {name}:{new}" for old, new in m.renumbered]
    for ref in sorted(differ):
        oid = selection.get(ref)
        if oid is None:
            continue
        kind, theirs = ref_class(ref), state.refs.get(ref)
        if kind == "alias":
            decision = alias_on_push(oid, theirs, tracked.get(ref))
        elif kind == "create-only":
            decision = create_only(oid, theirs)
            decision = "keep" if decision == "take" else decision
        elif kind == "annotations":
            decision = "send" if oid != theirs else "keep"
        else:
            continue
        if decision == "send":
            plan.updates[ref] = oid
        elif decision == "conflict":
            plan.conflicts.append(f"{ref[len(PREFIX):]} was changed on remote {remote_name} "
                                  "since your last pull; pull, then push again")
    return plan


def _under(refs: dict[str, str], names) -> dict[str, str]:
    """The version refs of `refs` that belong to `names` (one binary search per name over the sorted refs)."""
    if not names:
        return {}
    keys = sorted(refs)
    out = {}
    for name in names:
        prefix = version_prefix(name) + "/"
        i = bisect.bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            out[keys[i]] = refs[keys[i]]
            i += 1
    return out


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

    def selection(self, state: RemoteState) -> tuple[dict[str, str], dict[str, str]]:
        all_local = self.repo.published_refs()
        theirs = state.refs.get(ANNOTATIONS)
        if theirs is not None and self.repo.objects.contains(theirs):  # union with the remote's chain first
            self.repo.merge_annotations(state.refs[ANNOTATIONS], self.session.remote.name)
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
        for _attempt in range(MAX_ATTEMPTS):
            state = session.read_state()
            session.fetch_git(state)
            selection, all_local = self.selection(state)
            if selection == state.refs:  # both sides publish the same: no plan to make (nor deletions to send)
                self._finish(PushPlan(), state.refs, all_local)
                return self.result
            plan = plan_push(self.repo, selection, all_local, state, session.tracked(), session.remote.name)
            if plan.conflicts:
                raise ConflictError("; ".join(plan.conflicts))
            if not plan.updates and not plan.removals:
                self._finish(plan, state.refs, all_local)
                return self.result
            try:
                self._send_data(plan, state)
            except RemoteIndexGone:
                continue  # a remote gc rewrote the index list since we read the table: re-read, re-plan
            self._send_git(plan, state)
            refs = {ref: oid for ref, oid in {**state.refs, **plan.updates}.items() if ref not in plan.removals}
            new = RemoteState(refs,
                              state.git_packs + [g for g in self.new_git if g not in state.git_packs],
                              state.index_files + [i for i in self.new_index if i not in state.index_files])
            if write_state(session.backend, state, new):
                self.result.versions = sum(ref_class(r) == "version" for r in plan.updates)
                self.result.refs = len(plan.updates) - self.result.versions + len(plan.removals)
                self.result.renumbered = plan.renumbered
                session.mark_imported(self.new_git)
                self._finish(plan, new.refs, all_local)
                return self.result
        raise ConflictError(f"remote {session.remote.name} kept changing during {MAX_ATTEMPTS} attempts; try again")

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

    def _send_git(self, plan: PushPlan, state: RemoteState) -> None:
        tips = set(plan.updates.values()) - self.shipped_tips
        if not tips:
            return
        data = build_git_pack(self.repo, tips, set(state.refs.values()) | self.shipped_tips,
                              set(self.repo.published_refs().values()) if self.local is None else self.local)
        self.shipped_tips |= tips
        if data is None:
            return
        name = pack_name(data)
        self.session.backend.put_content(git_pack_key(name), data)
        self.result.bytes_sent += len(data)
        self.new_git.append(name)

    def _finish(self, plan: PushPlan, remote_refs: dict[str, str], local: dict[str, str] | None = None) -> None:
        for name, moves in plan.moves.items():
            self.repo.move_labels(name, moves)
        if plan.moves or local is None:
            local = self.repo.published_refs()
        self.session.update_tracked(remote_refs, local)


def push(repo, remote, refs=(), progress=None, backend=None, index_files=()) -> TransferResult:
    """Send what `remote` lacks of the local repository (or of the named references).

    `index_files`: index files written into the remote's store since its ref table was read (by the
    workers of a run on a stack), listed in the table by this push.
    """
    return Pusher(repo, remote, refs, progress, backend, index_files).run()
