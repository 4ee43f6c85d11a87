"""One open remote as seen from one repository: backend, ref table, content store, local cache.

The cache (`.artrepo/remote-cache/<remote>/`) holds copies of the remote's
index files (`index/`) and base ref table (`tables/`), the names of the remote
git packs already imported (`git-imported`), the aliases as both sides last
agreed on them (`tracked`: what movable refs are compared against), and the
local refs as the last whole push left them (`synced/`, gitdb.refsnap: what
the next push compares with). It only saves requests and comparisons;
deleting it is always safe.
"""
from __future__ import annotations

import msgpack

from artrepo.atomic import write_atomic
from artrepo.errors import IntegrityError, UserError
from artrepo.remotes.config import Remote, cache_dir, open_remote
from artrepo.remotes.gitpacks import git_pack_key, import_git_pack
from artrepo.gitdb import layout
from artrepo.gitdb.refsnap import RefSnapshot
from artrepo.remotes.reftable import TableCache
from artrepo.remotes.state import RemoteState, read_state
from artrepo.storage.chunkstore import ChunkStore


class RemoteIndexGone(UserError):
    """An index file the ref table named is gone: a remote gc replaced it since the table was read."""


class RemoteSession:
    def __init__(self, repo, remote: Remote, backend=None):
        self.repo = repo
        self.remote = remote
        self.backend = backend or open_remote(remote)
        self.cache = cache_dir(repo, remote.name)
        self._store: ChunkStore | None = None
        self.tables = TableCache(self.cache / "tables")
        self._tracked: tuple | None = None  # (file stamp, what it held)

    # -- ref table ------------------------------------------------------------
    def read_state(self) -> RemoteState:
        return read_state(self.backend, self.tables)

    def tracked(self) -> dict[str, str]:
        """The aliases as last agreed (read again only when the file changed since this session read it)."""
        path = self.cache / "tracked"
        try:
            st = path.stat()
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if self._tracked is not None and self._tracked[0] == stamp:
                return dict(self._tracked[1])
            found = msgpack.unpackb(path.read_bytes())
        except (FileNotFoundError, ValueError, msgpack.UnpackException):
            return {}
        if type(found) is not dict:
            return {}
        found = {ref: oid for ref, oid in found.items() if type(ref) is str and layout.ref_kind(ref) == "alias"}
        self._tracked = (stamp, found)
        return dict(found)

    def update_tracked(self, remote_refs: dict[str, str], local_refs: dict[str, str]) -> None:
        """Record the aliases both sides agree on, one by one; disagreements keep the old agreement.
        (`remote_refs` may be a RemoteState's getter: only the local aliases are looked up.)"""
        get = remote_refs.get
        before = self.tracked()
        tracked = dict(before)
        for ref, oid in local_refs.items():
            if layout.ref_kind(ref) == "alias" and get(ref) == oid:
                tracked[ref] = oid
        if tracked != before:
            write_atomic(self.cache / "tracked", msgpack.packb(dict(sorted(tracked.items()))))

    # -- the local refs as the last whole push left them -------------------------
    def synced(self) -> RefSnapshot | None:
        return RefSnapshot.load(self.cache / "synced")

    def snapshot(self) -> RefSnapshot:
        return RefSnapshot.take(self.repo.git_dir, self.cache / "synced")

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

    def fetch_git(self, state: RemoteState, hold: bool = False, meanwhile=None) -> int:
        """Import the remote's git packs not imported yet, oldest first; returns how many.

        `hold`: keep their objects in memory too (`import_git_pack`; the caller
        releases them), and run `meanwhile()` while git checks the last pack
        (after the imports when there is none): it may read, never publish.
        """
        seen = set(self.imported())
        todo = [n for n in state.git_packs if n not in seen]
        for i, name in enumerate(todo):
            import_git_pack(self.repo, name, self.backend.get(git_pack_key(name)), hold,
                            meanwhile if i == len(todo) - 1 else None)
            self.mark_imported([name])
        if hold and meanwhile is not None and not todo:
            meanwhile()
        return len(todo)

    def check_reachable(self, state: RemoteState) -> None:
        missing = self.repo.objects.missing_among(set(state.refs.values()))
        for ref, oid in sorted(state.refs.items()):
            if oid in missing:
                raise IntegrityError(f"remote {self.remote.name}: {ref} points at {oid[:12]}, "
                                     "which none of its git packs holds")

    # -- chunks ---------------------------------------------------------------
    def store(self, index_files: list[str], *, strict: bool = True) -> ChunkStore:
        """The remote's content store, its index exactly the named files (copies cached locally).

        A damaged index file is an IntegrityError, unless not `strict`: then its
        chunks read as missing and `index.damaged` says why (pull refuses only
        the versions that need them).
        """
        if self._store is None:
            self._store = ChunkStore(self.backend, index_files=index_files, cache=self.cache / "index")
        else:
            self._store.index.use(index_files)
        index = self._store.index
        if index.missing:
            raise RemoteIndexGone(f"remote index {index.missing[0][:12]} is gone (a remote gc replaced it); "
                                  "run again")
        damaged = [why for name, why in index.damaged.items() if name in index_files]
        if damaged and strict:
            raise IntegrityError(f"remote {self.remote.name}: {damaged[0]}")
        return self._store

    def cached_index_files(self) -> list[str]:
        """The remote's index files cached here (what its ref table listed when last read)."""
        folder = self.cache / "index"
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def remote_store(repo, name: str) -> ChunkStore:
    """The content store of `repo`'s remote `name` as its ref table lists it now (one GET), damaged index files
    left out (`index.damaged`): what fsck checks the chunks of versions pulled with --metadata-only against."""
    from artrepo.remotes.config import get_remote

    session = RemoteSession(repo, get_remote(repo, name))
    return session.store(session.read_state().index_files, strict=False)
