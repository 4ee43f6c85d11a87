"""Commits and trees as artrepo reads them, parsed from their git bodies (pure functions, no I/O)."""
from __future__ import annotations

from artrepo.errors import IntegrityError
from artrepo.plain import Frozen

_HEX = frozenset("0123456789abcdef")


def is_oid(text: str) -> bool:
    return len(text) == 40 and _HEX.issuperset(text)


class Commit(Frozen):
    """A commit as artrepo reads it (the attribute names pygit2 uses)."""

    __slots__ = ("id", "tree_id", "parent_ids", "commit_time", "message")

    def __init__(self, id: str, tree_id: str, parent_ids: tuple[str, ...], commit_time: int, message: str):
        self._init(id=id, tree_id=tree_id, parent_ids=parent_ids, commit_time=commit_time, message=message)


def tree_entries(body: bytes) -> dict[str, tuple[str, str]]:
    """{name: (mode, oid)} of a tree object's body."""
    out, pos = {}, 0
    try:
        while pos < len(body):
            space = body.index(b" ", pos)
            nul = body.index(b"\0", space)
            oid = body[nul + 1:nul + 21]
            if len(oid) != 20:
                raise ValueError("truncated entry")
            name = body[space + 1:nul].decode("utf-8", "surrogateescape")
            out[name] = (body[pos:space].decode("ascii"), oid.hex())
            pos = nul + 21
    except ValueError as exc:
        raise IntegrityError(f"malformed git tree ({exc})") from None
    return out


def parse_commit(oid: str, body: bytes) -> Commit:
    header, _, message = body.partition(b"\n\n")
    tree, parents, when = None, [], 0
    for line in header.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"tree":
            tree = value.decode("ascii", "replace")
        elif key == b"parent":
            parents.append(value.decode("ascii", "replace"))
        elif key == b"committer":
            try:
                when = int(value.rsplit(b" ", 2)[1])
            except (IndexError, ValueError):
                raise IntegrityError(f"git commit {oid[:12]} has a malformed committer line") from None
    if tree is None or not is_oid(tree) or not all(map(is_oid, parents)):
        raise IntegrityError(f"git commit {oid[:12]} is malformed")
    return Commit(oid, tree, tuple(parents), when, message.decode("utf-8", "replace"))
