"""One open remote as seen from one repository: backend, ref table, local cache.

The cache (`.artrepo/remote-cache/<remote>/`) holds copies of the remote's
index files, the names of the remote git packs already imported, and the ref
table as last seen (`tracked`: what movable refs are compared against). It
only saves requests; deleting it is always safe.
"""
from __future__ import annotations

import msgpack

from artrepo.errors import IntegrityError
from artrepo.remotes.config import Remote, cache_dir, open_remote
from artrepo.remotes.gitpacks import git_pack_key, import_git_pack
from artrepo.remotes.packs import RemoteIndex
from artrepo.remotes.state import RemoteState, read_state
from artrepo.atomic import write_atomic


class RemoteSession:
    def __init__(self, repo, remote: Remote, backend=None):
        self.repo = repo
        self.remote = remote
        self.backend = backend or open_remote(remote)
        self.cache = cache_dir(repo, remote.name)
        self.index = RemoteIndex(self.cache)
        self.requests_saved = 0

    # -- ref table ------------------------------------------------------------
    def read_state(self) -> RemoteState:
        return read_state(self.backend)

    def tracked(self) -> dict[str, str]:
        try:
            return msgpack.unpackb((self.cache / "tracked").read_bytes())
        except (FileNotFoundError, ValueError, msgpack.UnpackException):
            return {}

    def update_tracked(self, remote_refs: dict[str, str], local_refs: dict[str, str]) -> None:
        """Record the value both sides agree on, ref by ref; disagreements keep the old agreement."""
        before = self.tracked()
        tracked = dict(before)
        for ref, oid in remote_refs.items():
            if local_refs.get(ref) == oid:
                tracked[ref] = oid
        if tracked != before:
            write_atomic(self.cache / "tracked", msgpack.packb(dict(sorted(tracked.items()))))

    # -- git objects ----------------------------------------------------------
    def imported(self) -> list[str]:
        try:
            return (self.cache / "git-imported").read_text().split()
        except FileNotFoundError:
            return []

    def mark_imported(self, names: list[str]) -> None:
        seen = self.imported()
        new = [n for n in names if n not in seen]
        if new:
            write_atomic(self.cache / "git-imported", ("\n".join(seen + new) + "\n").encode())

    def fetch_git(self, state: RemoteState) -> int:
        """Import the remote's git packs not imported yet, oldest first; returns how many."""
        seen = set(self.imported())
        todo = [n for n in state.git_packs if n not in seen]
        for name in todo:
            import_git_pack(self.repo, name, self.backend.get(git_pack_key(name)))
            self.mark_imported([name])
        return len(todo)

    def check_reachable(self, state: RemoteState) -> None:
        for ref, oid in state.refs.items():
            if not self.repo.objects.contains(oid):
                raise IntegrityError(f"remote {self.remote.name}: {ref} points at {oid[:12]}, "
                                     "which none of its git packs holds")

    # -- chunks ---------------------------------------------------------------
    def sync_index(self, state: RemoteState) -> None:
        self.index.sync(self.backend, state.index_files)
