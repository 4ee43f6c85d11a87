"""Fetching chunks on demand for versions pulled with `--metadata-only`.

    install_lazy_fetch(repo)   # once, when the repository is opened

Costs nothing until a chunk is missing: then the remotes' cached index files
say which remote pack holds it, and that whole pack is downloaded, verified
and stored like a pulled one.
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
            session = RemoteSession(self.repo, remote)
            session.index.sync(None, _cached_names(session))
            self._sessions[remote.name] = session
        return self._sessions[remote.name]

    def __call__(self, chunk_id: bytes) -> bool:
        from artrepo.remotes.config import remotes
        from artrepo.remotes.packs import fetch_packs
        from artrepo.remotes.progress import Silent

        with self._lock:
            if self.repo.chunks.has(chunk_id):
                return True
            for remote in remotes(self.repo).values():
                session = self._session(remote)
                pid = session.index.locations.get(chunk_id)
                if pid is None:  # the cache may be behind the remote: one GET of the ref table
                    session.sync_index(session.read_state())
                    pid = session.index.locations.get(chunk_id)
                if pid is not None:
                    fetch_packs(session.backend, self.repo.chunks, [pid], Silent())
                    return True
            return False


def _cached_names(session) -> list[str]:
    folder = session.index.folder
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def install_lazy_fetch(repo) -> None:
    """Let `repo` fetch missing chunks from its remotes; a no-op for a repository that never pulled."""
    if repo.fetch_missing is None and layout.remote_cache(repo.git_dir, "").is_dir():
        repo.fetch_missing = LazyFetcher(repo)
        if repo._chunks is not None:
            repo._chunks.fetch_missing = repo.fetch_missing
