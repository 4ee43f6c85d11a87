"""What a push sends: the refs to set and remove on the remote, and the local labels to move.

Two ways to the same decisions (docs/format.md §11b):

- `plan_changes` (every push of everything after the first): the local refs
  that changed since the last such push (gitdb.refsnap) are looked up in the
  remote's table one by one; work in proportion to the change, whatever the
  repository holds. It declines (None) what it cannot decide from lookups: a
  remote whose annotations moved since (deletions may have arrived), a
  version the remote holds under another label (a renumbering whose local
  move a crash cut short).
- `plan_push`: every local ref compared with the remote's table.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from artrepo.gitdb.layout import ALIASES, ANNOTATIONS, PREFIX, split_version_ref, version_prefix, version_ref
from artrepo.gitdb.objects import is_oid
from artrepo.remotes.negotiate import alias_on_push, create_only, group_versions, merge_labels, ref_class
from artrepo.repository.versions import label_key


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
        if ref_class(ref) != "version":
            _decide(plan, ref, oid, state.refs.get(ref), tracked, remote_name)
    return plan


def _decide(plan: PushPlan, ref: str, oid: str, theirs: str | None, tracked: dict[str, str], remote_name: str):
    """Send, keep or refuse an alias, a create-only ref (a run) or the annotations."""
    kind = ref_class(ref)
    if kind == "alias":
        decision = alias_on_push(oid, theirs, tracked.get(ref))
    elif kind == "create-only":
        decision = create_only(oid, theirs)
    elif kind == "annotations":
        decision = "send" if oid != theirs else "keep"
    else:
        return
    if decision == "send":
        plan.updates[ref] = oid
    elif decision == "conflict":
        plan.conflicts.append(f"{ref[len(PREFIX):]} was changed on remote {remote_name} "
                              "since your last pull; pull, then push again")


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


def plan_changes(repo, changed: dict[str, str | None], state, since, now, tracked: dict[str, str],
                 remote_name: str) -> PushPlan | None:
    """The plan for the local refs `changed` since snapshot `since` ({ref: value now, None: gone}; every alias
    is added to it), decided by looking each up in `state`; None when that cannot decide it (then `plan_push`
    compares everything)."""
    from artrepo.repository.labels import peek_counter

    theirs = state.get(ANNOTATIONS)
    if theirs is not None and theirs not in (since.get(ANNOTATIONS), now.get(ANNOTATIONS)):
        return None  # annotations arrived from elsewhere: deletions among them are applied by a full comparison
    arrived = remote_changes(state, since.other)
    if arrived is None:
        return None
    # every alias, changed or not: one moved here and back while the remote moved it too is a conflict
    changed.update((ref, oid) for ref, oid in repo.refs.all(ALIASES + "/").items() if is_oid(oid))
    plan = PushPlan()
    versions: dict[str, list[tuple[str, str, str]]] = {}
    for ref, oid in sorted(changed.items()):
        kind, remote = ref_class(ref), state.get(ref)
        if oid is None:  # gone here: the remote drops it too if it names a version deleted here
            if kind in ("version", "alias") and remote is not None and repo.deleted_among([remote]):
                plan.removals.add(ref)
            continue
        if oid == remote:
            continue
        if kind == "version":
            if state.publishes(oid):
                return None
            name, label = split_version_ref(ref)
            versions.setdefault(name, []).append((label, oid, remote))
        else:
            _decide(plan, ref, oid, remote, tracked, remote_name)
    for ref, oid in sorted(arrived.items()):  # pushed by others since: a version deleted here goes again
        if ref in changed or ref_class(ref) not in ("version", "alias"):
            continue
        if oid is None or now.publishes(oid, ref):
            return None  # removed there, or held here under another label: compare everything
        if repo.deleted_among([oid]):
            plan.removals.add(ref)
    for name, items in sorted(versions.items()):
        top = max(state.top(name), peek_counter(repo.git_dir, name) or 0)
        moves = []
        for label, oid, remote in sorted(items, key=lambda item: label_key(item[0])):
            if remote is None:  # a free label is kept
                plan.updates[version_ref(name, label)] = oid
                top = max(top, int(label)) if label.isdigit() else top
            elif repo.record(oid).version is not None:  # a custom version taken by another commit
                if repo.record(oid).content_hash != repo.record(remote).content_hash:
                    plan.conflicts.append(f"version {name}:{label} exists on remote {remote_name} with other content")
            else:
                top += 1
                plan.updates[version_ref(name, str(top))] = oid
                moves.append((oid, label, str(top)))
                plan.renumbered.append(f"{name}:{label} \u2192 {name}:{top}")
        if moves:
            plan.moves[name] = moves
    return plan


def remote_changes(state, seen) -> dict[str, str | None] | None:
    """The refs of `state` set or removed since the table `seen` ({"base", "changes"}, as a push noted it), or
    None when that cannot be told from the changes alone (another base since, or nothing noted)."""
    if type(seen) is not dict or seen.get("base") != state.base or type(seen.get("changes")) is not dict:
        return None
    before = seen["changes"]
    out = {ref: oid for ref, oid in state.changes.items() if before.get(ref, "") != oid}
    out.update((ref, state.get(ref)) for ref in before if ref not in state.changes)
    return out


def noted(state) -> dict:
    """What a snapshot notes of the remote's table (for `remote_changes`)."""
    return {"base": state.base, "changes": state.changes}
