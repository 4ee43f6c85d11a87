"""Pure decisions of push and pull over ref maps: no I/O, exhaustively testable.

Refs under refs/artrepo/ fall in classes, handled generically so that new
kinds of refs (pipeline runs) sync without coordination:

- publishing, create-only: `v/<name>/<label>` (versions, with renumbering of
  auto-increment labels), `runs/<id>` and anything unknown;
- movable: `aliases/<name>/<alias>`, compare-and-swap against the value last
  seen on the remote;
- append-only: `annotations`, merged by union of the two commit chains;
- derived, never sent: `heads/<name>`, `pipelines/...`, `cache/...`;
  recomputed locally (`Repository.adopt_runs` for the last two).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from artrepo.gitdb import layout
from artrepo.gitdb.layout import split_version_ref
from artrepo.repository import next_number



def ref_class(ref: str) -> str:
    """One of `version`, `alias`, `annotations`, `derived`, `create-only`."""
    kind = layout.ref_kind(ref)
    return "create-only" if kind in ("run", "other") else kind


def group_versions(refs: dict[str, str]) -> dict[str, dict[str, str]]:
    """{name: {label: version id}} from a ref map."""
    out: dict[str, dict[str, str]] = {}
    for ref, oid in refs.items():
        if ref_class(ref) == "version":
            name, label = split_version_ref(ref)
            out.setdefault(name, {})[label] = oid
    return out


def _label_order(label: str):
    return (0, int(label), "") if label.isdigit() else (1, 0, label)


@dataclass
class LabelMerge:
    """The labels of one name once local versions are placed after the remote's."""

    labels: dict[str, str]                      # remote labels plus the local versions placed
    moves: list[tuple[str, str, str]] = field(default_factory=list)      # (version id, old label, new label)
    renumbered: list[tuple[str, str]] = field(default_factory=list)      # (old, new) auto-increment collisions
    conflicts: list[str] = field(default_factory=list)                   # custom labels with other content
    same_content: list[str] = field(default_factory=list)                # custom labels, other id, same content


def merge_labels(remote: dict[str, str], local: dict[str, str], reserved: set[str],
                 is_custom: Callable[[str], bool], same_content: Callable[[str, str], bool]) -> LabelMerge:
    """Place `local` versions among `remote` ones; the remote's labels always win.

    A local version already on the remote takes the remote's label. A free
    label is kept. A taken auto-increment label moves to the next number
    after every label known on either side (`reserved` adds labels that must
    stay free, e.g. local versions not being pushed). A taken custom label
    is a no-op when the content is the same, otherwise a conflict.
    """
    merged = dict(remote)
    where = {oid: label for label, oid in sorted(remote.items(), key=lambda kv: _label_order(kv[0]), reverse=True)}
    out = LabelMerge(merged)
    taken = set(remote) | set(local) | set(reserved)
    for label, oid in sorted(local.items(), key=lambda kv: _label_order(kv[0])):
        if oid in where:
            if where[oid] != label:
                out.moves.append((oid, label, where[oid]))
            continue
        if label not in merged:
            merged[label] = oid
            where[oid] = label
            continue
        if is_custom(oid):
            (out.same_content if same_content(oid, merged[label]) else out.conflicts).append(label)
            continue
        new = str(next_number(taken))
        taken.add(new)
        merged[new] = oid
        where[oid] = new
        out.moves.append((oid, label, new))
        out.renumbered.append((label, new))
    return out


def alias_on_push(local: str | None, remote: str | None, tracked: str | None) -> str:
    """`send` the local alias, `keep` the remote's, or `conflict` (both moved)."""
    if local is None or local == remote:
        return "keep"
    if remote is None or remote == tracked:
        return "send"
    return "keep" if local == tracked else "conflict"


def alias_on_pull(local: str | None, remote: str | None, tracked: str | None) -> str:
    """`take` the remote alias, `keep` the local one, or `conflict` (both moved)."""
    if remote is None or local == remote:
        return "keep"
    if local is None or local == tracked:
        return "take"
    return "keep" if remote == tracked else "conflict"


def create_only(local: str | None, remote: str | None) -> str:
    """`send`/`take` when one side lacks it, `keep` when equal, else `conflict`."""
    if local == remote:
        return "keep"
    if remote is None:
        return "send"
    if local is None:
        return "take"
    return "conflict"
