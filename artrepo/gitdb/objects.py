"""Blobs, trees and commits as typed calls; ids are hex strings of git oids."""
from __future__ import annotations

import pygit2

from artrepo.errors import IntegrityError
from artrepo.gitdb.layout import IDENTITY_EMAIL, IDENTITY_NAME

BLOB_MODE = pygit2.enums.FileMode.BLOB
TREE_MODE = pygit2.enums.FileMode.TREE


class Objects:
    def __init__(self, repo: pygit2.Repository):
        self.repo = repo

    def write_blob(self, data: bytes) -> str:
        return str(self.repo.create_blob(data))

    def write_tree(self, entries: dict[str, object]) -> str:
        """`entries` maps a name to bytes (a blob) or to a nested dict (a tree)."""
        builder = self.repo.TreeBuilder()
        for name in sorted(entries):
            value = entries[name]
            if isinstance(value, dict):
                builder.insert(name, pygit2.Oid(hex=self.write_tree(value)), TREE_MODE)
            elif isinstance(value, str):  # an existing object id
                obj = self.repo[value]
                mode = TREE_MODE if obj.type == pygit2.enums.ObjectType.TREE else BLOB_MODE
                builder.insert(name, obj.id, mode)
            else:
                builder.insert(name, self.repo.create_blob(value), BLOB_MODE)
        return str(builder.write())

    def write_commit(self, tree: str, parents: list[str], message: str, time_ns: int) -> str:
        sig = pygit2.Signature(IDENTITY_NAME, IDENTITY_EMAIL, time=time_ns // 1_000_000_000, offset=0)
        oid = self.repo.create_commit(None, sig, sig, message, pygit2.Oid(hex=tree),
                                      [pygit2.Oid(hex=p) for p in parents])
        return str(oid)

    def commit(self, oid: str) -> pygit2.Commit:
        if len(oid) != 40:
            raise IntegrityError(f"damaged ref: {oid[:40]!r} is not an object id")
        try:
            obj = self.repo[pygit2.Oid(hex=oid)]  # an Oid skips libgit2's prefix search
        except (KeyError, ValueError):
            raise IntegrityError(f"git object {oid[:12]} is missing") from None
        except pygit2.GitError as exc:
            raise IntegrityError(f"git object {oid[:12]} is unreadable ({exc})") from None
        if not isinstance(obj, pygit2.Commit):
            raise IntegrityError(f"git object {oid[:12]} is not a commit")
        return obj

    def tree_file(self, commit_oid: str, path: str) -> bytes | None:
        """Bytes of the blob at `path` in a commit's tree, or None."""
        tree = self.commit(commit_oid).tree
        try:
            entry = tree[path]
        except KeyError:
            return None
        try:
            return self.repo[entry.id].data
        except (KeyError, pygit2.GitError) as exc:
            raise IntegrityError(f"git object {str(entry.id)[:12]} ({path} of {commit_oid[:12]}) "
                                 f"is missing or corrupt ({exc})") from None

    def tree_listing(self, commit_oid: str, path: str) -> dict[str, str]:
        """Names and oids of the entries under `path` in a commit's tree."""
        tree = self.commit(commit_oid).tree
        try:
            sub = tree[path] if path else tree
        except KeyError:
            return {}
        sub = self.repo[sub.id]
        return {e.name: str(e.id) for e in sub}

    def blob(self, oid: str) -> bytes:
        try:
            return self.repo[pygit2.Oid(hex=oid)].data
        except (KeyError, pygit2.GitError) as exc:
            raise IntegrityError(f"git object {oid[:12]} is missing or corrupt ({exc})") from None

    def expand_prefix(self, prefix: str) -> list[str]:
        """Full ids of commits starting with `prefix` (several if ambiguous)."""
        try:
            obj = self.repo[prefix]
        except KeyError:
            return []
        except ValueError:
            return ["ambiguous", "ambiguous"]
        return [str(obj.id)] if isinstance(obj, pygit2.Commit) else []


def insert_path(objects: Objects, tree: str | None, path: list[str], data: bytes) -> str:
    """A new tree: `tree` (or an empty one) with the blob `data` at `path`."""
    repo = objects.repo
    builder = repo.TreeBuilder(repo[tree]) if tree else repo.TreeBuilder()
    head, rest = path[0], path[1:]
    if not rest:
        builder.insert(head, repo.create_blob(data), BLOB_MODE)
    else:
        existing = builder.get(head)
        sub = insert_path(objects, str(existing.id) if existing is not None else None, rest, data)
        builder.insert(head, pygit2.Oid(hex=sub), TREE_MODE)
    return str(builder.write())
