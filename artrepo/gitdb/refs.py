"""Refs with compare-and-swap, prefix listing without reading every ref, reflogs.

libgit2's create-if-absent checks for the ref before taking its lock, so
racing creators can both "win". Every update here runs inside a
`Repository.transaction()` (lock the ref, re-read it under the lock, set),
itself inside a per-ref `flock`: the kernel frees the flock when its holder
dies, so a `.lock` file found while holding the flock is provably stale.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pygit2

from artrepo.errors import RefLockedError
from artrepo.gitdb import layout, loose
from artrepo.atomic import flock


class Refs:
    def __init__(self, repo: pygit2.Repository, git_dir: Path):
        self.repo = repo
        self.git_dir = git_dir

    def _lock_file(self, name: str):
        return layout.ref_lock(self.git_dir, name)

    def get(self, name: str) -> str | None:
        ref = self.repo.references.get(name)
        return None if ref is None else str(ref.target)

    def list_prefix(self, prefix: str) -> dict[str, str]:
        """Refs under `prefix/` one level deep: {last component: oid}.

        Scans the loose folder and `packed-refs` directly: libgit2 offers no
        prefix iterator and would read every ref in the repository.
        """
        return loose.list_prefix(self.git_dir, prefix)

    def list_folders(self, prefix: str) -> set[str]:
        """Names of the sub-folders of `prefix/` (loose or packed)."""
        return loose.list_folders(self.git_dir, prefix)

    def create(self, name: str, oid: str, message: str = "create") -> bool:
        """Point a new ref `name` at `oid`; False if it already exists."""
        return self.update(name, lambda cur: oid if cur is None else None, message) == oid

    def compare_and_swap(self, name: str, expected: str | None, oid: str, message: str) -> bool:
        return self.update(name, lambda cur: oid if cur == expected else None, message) == oid

    def update(self, name: str, decide: Callable[[str | None], str | None], message: str) -> str | None:
        """Under the ref's locks, call `decide(current)`; set the ref to its answer.

        Returns the oid the ref holds afterwards (the current one when
        `decide` answers None).
        """
        lock_file = self._lock_file(name)
        with flock(lock_file):
            stale = self.git_dir / (name + ".lock")
            if stale.exists():  # we hold the flock: its writer is gone
                stale.unlink()
            for attempt in range(100):
                try:
                    with self.repo.transaction() as txn:
                        txn.lock_ref(name)
                        current = self.get(name)
                        new = decide(current)
                        if new is None or new == current:
                            return current
                        txn.set_target(name, pygit2.Oid(hex=new), signature=None, message=message)
                    return new
                except pygit2.GitError as exc:
                    if "lock" not in str(exc):
                        raise
                    time.sleep(min(0.05, 0.001 * (attempt + 1)))
        raise RefLockedError(f"ref {name} stayed locked by another writer; try again")

    def delete(self, name: str, expected: str) -> bool:
        lock_file = self._lock_file(name)
        with flock(lock_file):
            with self.repo.transaction() as txn:
                txn.lock_ref(name)
                if self.get(name) != expected:
                    return False
                txn.remove(name)
        return True

    def reflog(self, name: str) -> list[tuple[str, int, str]]:
        """(new oid, time in seconds, message), newest first."""
        ref = self.repo.references.get(name)
        if ref is None:
            return []
        return [(str(e.oid_new), e.committer.time, e.message or "") for e in ref.log()]
