"""The stack's artifact store as the driver uses it during one run on workers.

    store = run_store(repo, stack)          # RepositoryStore or RemoteStore
    store.unavailable(version_ids)          # cache hits need their data where workers read it
    store.prepare(task.inputs.values())     # inputs the store lacks are sent before the step is submitted
    spec = store.spec()                     # what a worker opens (runtime.workerstore.StoreSpec)
    store.adopt(index_files)                # what a worker wrote
    store.publish_run(run_id, produced)     # after the run is recorded locally

With the local repository as the store (one machine), workers write into
`.artrepo/chunks/` themselves; the driver holds the saving lock for the run,
so gc never removes a pack between a worker's write and the driver's publish.
With a remote, workers read and write the bucket; the driver publishes the
run there with the conditional ref-table write push uses, adding the index
files the workers wrote to the table's list, and marks the versions whose
data stayed there (`stored-on/`, fetched on demand like a metadata-only pull).
"""
from __future__ import annotations

from artrepo.remotes.select import needed_chunks
from artrepo.runtime.workerstore import StoreSpec


def run_store(repo, stack):
    remote = stack.remote
    return RepositoryStore(repo) if remote is None else RemoteStore(repo, remote)


def _manifest_chunks(manifests) -> list[bytes]:
    return list(dict.fromkeys(cid for manifest in manifests for cid in manifest.chunk_ids()))


class RepositoryStore:
    """The driver's own repository: workers on this machine read and write its content store."""

    remote = None

    def __init__(self, repo):
        self.repo = repo
        self.gone: set[bytes] = set()
        self._hold = repo.saving()
        self._hold.__enter__()

    def unavailable(self, version_ids) -> str | None:
        """Why the data of these versions cannot be read by a worker (None: it can)."""
        chunks = self.repo.chunks
        for cid in needed_chunks(self.repo, version_ids):
            loc = chunks.index.locations.get(cid)
            if loc is None:
                chunks.index.refresh()  # workers wrote index files since it was read
                loc = chunks.index.locations.get(cid)
            if loc is None:
                if chunks.fetch_missing is not None and chunks.fetch_missing(cid):
                    continue  # pulled with --metadata-only: fetched from its remote now
                return f"chunk {cid.hex()[:12]} is no longer in the repository"
            if not chunks.pack_path(loc[0]).is_file():
                self.gone.add(loc[0])
                return f"pack {loc[0].hex()[:12]} holding its data is gone"
        return None

    def prepare(self, inputs) -> None:
        """Chunks of versions pulled with --metadata-only are fetched here first (workers cannot)."""
        chunks = self.repo.chunks
        for cid in _manifest_chunks(s.manifest for s in inputs):
            if not chunks.has(cid):
                chunks.locate(cid)  # the lazy fetch of remotes.lazy, or a clear IntegrityError

    def spec(self) -> StoreSpec:
        return StoreSpec.repository(self.repo.git_dir, sorted(self.gone))

    def adopt(self, index_files) -> None:
        """Index files are every file under index/ here: nothing to record."""

    def publish_run(self, run_id: str, produced: list[str], used: list[str] = ()) -> None:
        """Everything is published locally already."""

    def close(self) -> None:
        if self._hold is not None:
            self._hold.__exit__(None, None, None)
            self._hold = None


class RemoteStore:
    """A remote bucket or folder: workers read and write it; the driver publishes the run there."""

    def __init__(self, repo, remote):
        from artrepo.remotes.session import RemoteSession

        self.repo = repo
        self.remote = remote
        self.session = RemoteSession(repo, remote)
        self.index_files = list(self.session.read_state().index_files)
        self.written: list[str] = []  # index files written during this run (workers, transfers)
        self.store = self.session.store(self.index_files)
        self.gone: set[bytes] = set()
        self._present: dict[bytes, bool] = {}

    def _pack_present(self, pack_id: bytes) -> bool:
        if pack_id not in self._present:
            self._present[pack_id] = self.store.backend.exists(self.store.pack_key(pack_id))
        return self._present[pack_id]

    def unavailable(self, version_ids) -> str | None:
        """Why these versions' data is neither in the remote nor here to send (None: workers can read it)."""
        local = self.repo.chunks
        for cid in needed_chunks(self.repo, version_ids):
            loc = self.store.index.locations.get(cid)
            if loc is not None and self._pack_present(loc[0]):
                continue
            if loc is not None:
                self.gone.add(loc[0])
                self.store.index.forget([loc[0]])
            mine = local.index.locations.get(cid)
            if mine is None or not local.pack_path(mine[0]).is_file():
                return f"its data is no longer in remote {self.remote.name} (chunk {cid.hex()[:12]})"
        return None

    def prepare(self, inputs) -> None:
        """Send the chunks of the inputs the remote lacks (versions made here and never pushed)."""
        from artrepo.storage.transfer import transfer

        missing = [c for c in _manifest_chunks(s.manifest for s in inputs) if not self.store.has(c)]
        if missing:
            moved = transfer(self.repo.chunks, self.store, missing, label="inputs")
            self.adopt([moved.index_file])

    def spec(self) -> StoreSpec:
        return StoreSpec.remote(self.remote.url, self.remote.endpoint_url, self.index_files, sorted(self.gone))

    def adopt(self, index_files) -> None:
        new = [n for n in index_files if n and n not in self.index_files]
        if new:
            self.index_files += new
            self.written += new
            self.store = self.session.store(self.index_files)  # copies cached: lazy fetch finds the data

    def publish_run(self, run_id: str, produced: list[str], used: list[str] = ()) -> None:
        """The run and the versions it made or used, to the remote, naming the workers' index files."""
        from artrepo.gitdb import layout
        from artrepo.remotes.lazy import install_lazy_fetch
        from artrepo.remotes.push import push

        from artrepo.atomic import write_atomic

        folder = layout.stored_on_dir(self.repo.git_dir)
        for version_id in produced:
            if not all(self.repo.chunks.has(c) for c in needed_chunks(self.repo, [version_id])):
                write_atomic(folder / version_id, self.remote.name.encode() + b"\n")
        push(self.repo, self.remote, [run_id, *dict.fromkeys([*produced, *used])], index_files=self.written)
        layout.remote_cache(self.repo.git_dir, self.remote.name).mkdir(parents=True, exist_ok=True)
        install_lazy_fetch(self.repo)

    def close(self) -> None:
        self.store.close()
