"""The local side of a transfer: reading refs, relabeling versions, origins, merges.

Every change goes through `Repository.refs` (compare-and-swap under flocks)
and, for version labels, under the per-name lock that saves also take.
"""
from __future__ import annotations

import time

from artrepo.errors import ConflictError
from artrepo.gitdb import layout
from artrepo.gitdb.layout import ANNOTATIONS, PREFIX, version_ref
from artrepo.remotes.negotiate import ref_class
from artrepo.repository import _label_key
from artrepo.atomic import write_atomic


def local_refs(repo) -> dict[str, str]:
    """Every ref under refs/artrepo/ that is not derived: {name: oid}."""
    out = {}
    for ref in repo.git.references.iterator():
        name = ref.name
        if name.startswith(PREFIX) and ref_class(name) != "derived":
            out[name] = str(ref.target)
    return out


def is_custom(repo, oid: str) -> bool:
    return repo.record(oid).version is not None


def same_content(repo, a: str, b: str) -> bool:
    return repo.record(a).content_hash == repo.record(b).content_hash


def write_origin(repo, version_id: str, remote_name: str) -> None:
    """Mark a version as pulled from `remote_name` (before its ref exists: never trusted by accident)."""
    path = layout.origins_dir(repo.git_dir) / version_id
    if not path.exists():
        write_atomic(path, remote_name.encode() + b"\n")


def set_labels(repo, name: str, final: dict[str, str]) -> None:
    """Make the labels of `name` equal `final`; the caller holds `repo.lock(name)`.

    Order keeps every version published at all times: first create refs at
    free labels, then drop old labels of versions now published elsewhere,
    then create the refs whose label those freed.
    """
    current = repo.version_refs(name)
    deferred = {}
    for label, oid in final.items():
        if current.get(label) == oid:
            continue
        if label in current:
            deferred[label] = oid
        elif not repo.refs.create(version_ref(name, label), oid, f"pull {name}:{label}"):
            raise ConflictError(f"version {name}:{label} was created locally at the same time; run again")
    placed = set(final.values())
    for label, oid in current.items():
        if final.get(label) != oid and oid in placed:
            repo.refs.delete(version_ref(name, label), oid)
    for label, oid in deferred.items():
        if not repo.refs.create(version_ref(name, label), oid, f"relabel {name}:{label}"):
            raise ConflictError(f"version {name}:{label} was created locally at the same time; run again")


def move_labels(repo, name: str, moves: list[tuple[str, str, str]]) -> None:
    """Apply (version id, old label, new label) moves decided against the remote."""
    with repo.lock(name):
        final = dict(repo.version_refs(name))
        for oid, old, new in moves:
            if final.get(old) == oid:
                del final[old]
            final[new] = oid
        set_labels(repo, name, final)
    update_head(repo, name)


def update_head(repo, name: str) -> None:
    """Recompute the derived `heads/<name>`: the newest version by creation time."""
    refs = repo.version_refs(name)
    if not refs:
        return
    newest = max(refs.items(), key=lambda kv: (repo.record(kv[1]).created_ns, _label_key(kv[0])))[1]
    repo.refs.update(layout.head_ref(name), lambda cur: newest, "latest after transfer")


def merge_annotations(repo, ours: str | None, theirs: str | None) -> str | None:
    """The annotation chain holding both sides: theirs, ours, or a union merge commit."""
    git = repo.git
    if theirs is None or ours == theirs:
        return ours
    if ours is None or git.descendant_of(theirs, ours):
        return theirs
    if git.descendant_of(ours, theirs):
        return ours
    tree = _union_tree(repo, str(git[ours].tree_id), str(git[theirs].tree_id))
    return repo.objects.write_commit(tree, [ours, theirs], "merge annotations", time.time_ns())


def _union_tree(repo, a: str, b: str) -> str:
    """Entries of both trees; sub-trees present on both sides are merged recursively."""
    git = repo.git
    builder = git.TreeBuilder(git[a])
    for entry in git[b]:
        mine = builder.get(entry.name)
        if mine is None:
            builder.insert(entry.name, entry.id, entry.filemode)
        elif mine.id != entry.id and entry.type_str == "tree" and mine.type_str == "tree":
            builder.insert(entry.name, git[_union_tree(repo, str(mine.id), str(entry.id))].id, entry.filemode)
    return str(builder.write())


def update_annotations(repo, theirs: str | None) -> str | None:
    """Merge `theirs` into the local annotation chain; returns the local tip afterwards."""
    return repo.refs.update(ANNOTATIONS, lambda cur: merge_annotations(repo, cur, theirs), "merge annotations")
