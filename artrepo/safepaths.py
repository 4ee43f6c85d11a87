"""Which paths and links a set of stored files may hold, judged before anything is written.

A manifest from a remote may name any path and any symlink target. Paths
must be relative and plain; symlinks are where files could reach outside
their folder, so they are resolved the way the kernel resolves them:
component by component, through the links the same files hold. A set of
files is refused when any link, so resolved, leaves the root, loops, or when
a path sits below a file or link. `register` checks a folder with it before
storing anything, `LoadFiles` before materializing, and fsck and pull check
every manifest they see.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

from artrepo.errors import IntegrityError

RESERVED = {".git", ".artrepo"}
MAX_LINK_DEPTH = 40  # Linux's MAXSYMLINKS: the kernel follows no longer chain
MAX_LINK_TARGET = 4095  # PATH_MAX - 1: the kernel stores no longer link


def check_relpath(path: str) -> str:
    """Refuse a stored path that could escape its folder (from a hostile remote)."""
    parts = path.split("/")
    if (not path or path.startswith("/") or "\\" in path or "\0" in path
            or any(p in ("", ".", "..") or p.lower() in RESERVED for p in parts)):
        raise IntegrityError(f"refusing unsafe path {path!r} in a manifest")
    return path


def check_files(files: Iterable[tuple[str, str | None]]) -> None:
    """Refuse (path, symlink target or None) pairs that cannot be written safely under one root.

    Every path must be safe (`check_relpath`) and listed once, with no path
    below a file or link; every link target, followed the way the kernel
    follows it through the links of the same set, must stay inside the root.
    Linear in the size of the paths and targets, whatever they hold.
    """
    resolver = _LinkResolver()
    for path, target in files:
        resolver.add(check_relpath(path), target)
    for link in resolver.links:
        resolver.resolve(link)


def check_manifest(manifest) -> None:
    """`check_files` for a version's data files and, apart, its visualizations (fsck, pull)."""
    check_files((f.path, f.symlink) for f in manifest.files)
    check_files((f.path, f.symlink) for _, _, f in manifest.visualizations)


class _Link:
    __slots__ = ("path", "target")

    def __init__(self, path: str, target: str):
        self.path, self.target = path, target


_FILE = object()


class _LinkResolver:
    """The files as a tree (folders are dicts), and where each link leads as the kernel walks it.

    A position is a linked stack `(node, parent position)`, the root's parent
    being None; a node that does not exist is None. Each link is resolved once
    and its position reused, so a walk costs one step per target component.
    """

    def __init__(self):
        self.root: dict = {}
        self.links: list[_Link] = []
        self.resolved: dict[str, tuple] = {}
        self.active: list[str] = []

    def add(self, path: str, target: str | None) -> None:
        node, parts = self.root, path.split("/")
        for i, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                above = "/".join(parts[:i + 1])
                kind = "link" if isinstance(node, _Link) else "file"
                raise IntegrityError(f"refusing {path!r} in a manifest: {above!r} is a {kind}, not a folder")
        if parts[-1] in node:
            raise IntegrityError(f"refusing a manifest that lists {path!r} twice (or as a file and a folder)")
        node[parts[-1]] = _FILE if target is None else _Link(path, target)
        if target is not None:
            self.links.append(node[parts[-1]])

    def resolve(self, link: _Link) -> tuple:
        """The position, under the root, of what `link` points to."""
        if link.path in self.resolved:
            return self.resolved[link.path]
        path, target = link.path, link.target
        if path in self.active or len(self.active) >= MAX_LINK_DEPTH:
            raise _unsafe(path, target, f"it loops or chains more than {MAX_LINK_DEPTH} links")
        if target.startswith("/"):
            raise _unsafe(path, target, "it points outside the artifact")
        if not target or "\0" in target or len(os.fsencode(target)) > MAX_LINK_TARGET:
            raise _unsafe(path, target, "it is not a valid link target")
        self.active.append(path)
        try:
            where = (self.root, None)
            for part in path.split("/")[:-1]:
                where = (where[0][part], where)
            for part in target.split("/"):
                if part in ("", "."):
                    continue
                if part == "..":
                    if where[1] is None:
                        raise _unsafe(path, target, "it points outside the artifact")
                    where = where[1]
                    continue
                node = where[0].get(part) if isinstance(where[0], dict) else None
                # a link met on the way is followed, as the kernel does
                where = self.resolve(node) if isinstance(node, _Link) else (node, where)
        finally:
            self.active.pop()
        self.resolved[path] = where
        return where


def _unsafe(path: str, target: str, why: str) -> IntegrityError:
    return IntegrityError(f"refusing symlink {path!r} -> {target!r}: {why}")
