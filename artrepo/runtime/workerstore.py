"""The stack's artifact store as a step running on another process or machine sees it.

    spec = StoreSpec.remote("s3://bucket/team", endpoint_url, index_files)   # built by the driver
    outcome, index_files = run_task(cloudpickle.dumps(task), spec)          # on a worker

A `StoreSpec` is small and picklable: the content store's URL (a
repository's `chunks/` folder when the workers share the driver's machine,
or a remote's URL and endpoint), the index files that make its index, and
the packs a cache check found gone. It holds no secret: credentials come
from the worker's own environment, as for any remote. On the worker the
store is opened once per process; a task loads its inputs through it
(chunks fetched on demand, verified) and stages its outputs into it (packs,
create-only, then one index file), and returns only records: the driver
publishes them. Versions `save_artifact` makes inside the step are staged
too, and published by the driver with the step's outputs.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from artrepo import values
from artrepo.plain import Frozen

_OPEN: dict[tuple, object] = {}  # (url, endpoint) -> ChunkStore, per worker process
_LOCK = threading.Lock()  # one load or stage at a time per process, as LocalStore (user code runs outside it)


class StoreSpec(Frozen):
    """Where a worker finds the stack's artifact store (see the module docstring)."""

    __slots__ = ("url", "endpoint_url", "index_files", "git_dir", "gone_packs")

    def __init__(self, url: str, endpoint_url: str | None = None, index_files: tuple[str, ...] | None = None,
                 git_dir: str | None = None, gone_packs: tuple[bytes, ...] = ()):
        self._init(url=url, endpoint_url=endpoint_url, index_files=index_files, git_dir=git_dir,
                   gone_packs=gone_packs)

    @classmethod
    def repository(cls, git_dir: Path, gone_packs=()) -> "StoreSpec":
        """The driver's own repository, for workers on its machine."""
        from artrepo.gitdb import layout

        return cls(str(layout.chunks_dir(git_dir)), None, None, str(git_dir), tuple(gone_packs))

    @classmethod
    def remote(cls, url: str, endpoint_url: str | None, index_files, gone_packs=()) -> "StoreSpec":
        return cls(url, endpoint_url, tuple(index_files), None, tuple(gone_packs))


def _scratch(spec: StoreSpec) -> tuple[Path, Path | None, Path | None]:
    """(tmp, paths cache, index cache) folders of this machine for the store."""
    from artrepo.gitdb import layout

    if spec.git_dir is not None:
        git_dir = Path(spec.git_dir)
        return layout.tmp_dir(git_dir), layout.paths_cache(git_dir), None
    import hashlib
    import tempfile

    key = hashlib.sha256(f"{spec.url}\0{spec.endpoint_url}".encode()).hexdigest()[:16]
    base = Path(tempfile.gettempdir()) / f"artrepo-worker-{os.getuid()}" / key
    return base / "tmp", base / "paths", base / "index"


def open_chunks(spec: StoreSpec):
    """The store the spec names, opened once per process; its index brought up to the spec's."""
    from artrepo.storage.chunkstore import ChunkStore, open_store

    key = (spec.url, spec.endpoint_url)
    store = _OPEN.get(key)
    if store is None:
        if spec.index_files is None:
            store = ChunkStore(Path(spec.url))
        else:
            store = open_store(spec.url, spec.endpoint_url, index_files=list(spec.index_files),
                               cache=_scratch(spec)[2])
        _OPEN[key] = store
    elif spec.index_files is None:
        store.index.refresh()
    else:  # the union: files this process wrote for earlier tasks stay (they hold what it staged)
        named = store.index.named or []
        store.index.use(named + [n for n in spec.index_files if n not in named])
    if spec.gone_packs:
        store.index.forget(spec.gone_packs)  # never dedup against data that is gone
    return store


class _Recording:
    """A chunk store that remembers the index file each write session leaves (what the driver adopts)."""

    def __init__(self, chunks):
        self._chunks = chunks
        self.sessions: list = []

    def session(self):
        session = self._chunks.session()
        self.sessions.append(session)
        return session

    def __getattr__(self, name):
        return getattr(self._chunks, name)


class WorkerVersion:
    """A version as a step on a worker sees it (there is no repository there): `.id`, `.name`, `.version`,
    `.content_hash`, `.run_metadata`, `.tags`, `.type` and `.load()`. `get_step_context().inputs` hold them."""

    def __init__(self, stored: values.Stored, store: "WorkerStore"):
        self.stored = stored
        self._store = store

    id = property(lambda self: self.stored.id)
    name = property(lambda self: self.stored.name)
    version = property(lambda self: self.stored.version)
    content_hash = property(lambda self: self.stored.record.content_hash.hex())
    run_metadata = property(lambda self: dict(self.stored.record.metadata))
    tags = property(lambda self: list(self.stored.record.tags))
    type = property(lambda self: self.stored.record.type)

    def load(self):
        return self._store.load(self.stored)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, version={self.version!r})"


class PendingVersion(WorkerVersion):
    """What `save_artifact` returns inside a step on a worker: staged, published by the driver when the step
    ends; `.id` is '' and `.version` None for an auto-increment one until then (numbered when published)."""

    def __init__(self, staged: values.Staged, store: "WorkerStore"):
        record = staged.record
        super().__init__(values.Stored("", record.name, record.version or "pending", record, staged.manifest, True),
                         store)
        self.staged = staged

    version = property(lambda self: self.staged.record.version)

    def __repr__(self) -> str:
        return f"PendingVersion({self.name!r}, version={self.version!r}, staged on a worker)"


class WorkerStore:
    """A task's store on a worker: `load`, `stage`, `save` (staged) over the spec's content store.

    On the driver's machine it holds the repository's saving lock (shared)
    while it stages, as `LocalStore` does, so a gc cannot remove a pack a
    staged version reuses; the driver holds it until it has published.
    """

    def __init__(self, spec: StoreSpec):
        self.spec = spec
        with _LOCK:
            self.chunks = _Recording(open_chunks(spec))
        tmp, paths, _index = _scratch(spec)
        self.workspace = values.Workspace(self.chunks, tmp, paths)
        self._hold = None

    @property
    def index_files(self) -> list[str]:
        """The index files this task wrote (in a remote store: to be added to its ref table)."""
        return [s.index_file for s in self.chunks.sessions if s.index_file]

    def load(self, stored: values.Stored):
        with _LOCK:
            return values.load(self.workspace, stored)

    def version(self, stored: values.Stored) -> WorkerVersion:
        """A step input (`get_step_context().inputs`)."""
        return WorkerVersion(stored, self)

    def stage(self, value, request: values.SaveRequest, uri=None) -> values.Staged:
        with _LOCK:
            if self.spec.git_dir is not None and self._hold is None:
                from artrepo.atomic import flock
                from artrepo.gitdb import layout

                self._hold = flock(layout.gc_lock(Path(self.spec.git_dir)), shared=True)
                self._hold.__enter__()
            return values.stage(self.workspace, value, request, uri)

    def output_folder(self):
        """A folder on this worker whose files a later `stage(..., uri=)` stores (`get_output_artifact_uri`)."""
        return values.output_folder(self.workspace)

    def save(self, data, name: str, version=None, **settings) -> PendingVersion:
        request = values.SaveRequest(name, version, **settings)
        return PendingVersion(self.stage(data, request), self)

    def close(self) -> None:
        if self._hold is not None:
            self._hold.__exit__(None, None, None)
            self._hold = None


def run_task(payload: bytes, spec: StoreSpec):
    """Run one pickled StepTask against the spec's store: (StepOutcome, index files it wrote).

    A task that cannot even be unpickled here (a module the driver has and
    this machine lacks) comes back as the step's error, saying so.
    """
    import time

    import cloudpickle

    from artrepo.runtime.task import StepOutcome, describe_failure

    start = time.time_ns()
    try:
        task = cloudpickle.loads(payload)
    except Exception as exc:
        message, trace = describe_failure(exc)
        return StepOutcome({}, {}, start, time.time_ns(), f"the step could not be unpickled on this worker: "
                           f"{message} (install that code on the workers, or import it from the script's own "
                           "modules, which are sent by value)", trace), []
    store = WorkerStore(spec)
    try:
        outcome = task.run(store)
    finally:
        store.close()
    return outcome, store.index_files
