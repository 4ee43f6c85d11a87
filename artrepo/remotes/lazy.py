"""Fetching chunks on demand for versions pulled with `--metadata-only`.

    install_lazy_fetch(repo)   # once, when the repository is opened

Costs nothing until a chunk is missing: then the remotes' index files (the
copies cached by the last pull, else the ref table's list: one GET) say
which remote pack holds it, and that pack is transferred like a pulled one
(verified before it is indexed), so its neighbours arrive with it.
"""
from __future__ import annotations

from artrepo.gitdb import layout


class LazyFetcher:
    """`fetch_missing` for a ChunkStore: chunk id -> True once stored locally."""

    def __init__(self, repo):
        import threading  # only a repository that pulled needs it: not imported on every run

        self.repo = repo
        self._lock = threading.Lock()
        self._sessions: dict[str, object] = {}

    def _session(self, remote):
        from artrepo.remotes.session import RemoteSession

        if remote.name not in self._sessions:
            self._sessions[remote.name] = RemoteSession(self.repo, remote)
        return self._sessions[remote.name]

    def __call__(self, chunk_id: bytes) -> bool:
        from artrepo.errors import IntegrityError
        from artrepo.remotes.config import remotes

        with self._lock:
            if self.repo.chunks.has(chunk_id):
                return True
            for remote in remotes(self.repo).values():
                session = self._session(remote)
                try:
                    if self._fetch(session, session.cached_index_files(), chunk_id):
                        return True
                except IntegrityError:
                    pass  # e.g. a pack a remote gc replaced since: the ref table says where it is now
                # the cache may also be behind the remote: one GET of the ref table
                if self._fetch(session, session.read_state().index_files, chunk_id):
                    return True
            return False

    def _fetch(self, session, index_files: list[str], chunk_id: bytes) -> bool:
        from artrepo.storage.transfer import transfer

        store = session.store(index_files)
        loc = store.index.locations.get(chunk_id)
        if loc is None:
            return False
        transfer(store, self.repo.chunks, [e.chunk_id for e in store.index.packs[loc[0]]])
        return True


def install_lazy_fetch(repo) -> None:
    """Let `repo` fetch missing chunks from its remotes; a no-op for a repository that never pulled."""
    if repo.fetch_missing is None and layout.remote_cache(repo.git_dir, "").is_dir():
        repo.fetch_missing = LazyFetcher(repo)
        if repo._chunks is not None:
            repo._chunks.fetch_missing = repo.fetch_missing
