"""The one Repository: versions, aliases, annotations and runs over gitdb and the content store.

It enforces the write order of docs/format.md: chunks and packs, then the
index, then git objects, then the ref that publishes them (compare-and-swap),
then derived refs. It knows nothing of Python objects or materializers.
Opening one reads no git object and imports no pygit2 (gitdb reads loose
objects and refs in pure Python): a cached run and `artrepo log` never pay
for it.
"""
from __future__ import annotations

import os
from pathlib import Path

from artrepo.errors import NotARepositoryError
from artrepo.gitdb import layout
from artrepo.gitdb.objects import ObjectStore, is_oid
from artrepo.gitdb.refs import RefsContainer
from artrepo.repository.annotations import Annotations
from artrepo.repository.deletions import Deletions
from artrepo.repository.relabel import Relabel
from artrepo.repository.runs import Runs
from artrepo.repository.versions import Versions

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (milliseconds)
if TYPE_CHECKING:
    from artrepo.storage.chunkstore import ChunkStore

DIR_NAME = layout.DIR_NAME


def find_root(start: Path | None = None) -> Path:
    """The project folder holding `.artrepo/`, searching upward as git does."""
    env = os.environ.get("ARTREPO_DIR")
    if env:
        p = Path(env).resolve()
        if (p / DIR_NAME / "config").is_file():
            return p
        raise NotARepositoryError(f"ARTREPO_DIR={env} is not an artrepo repository")
    here = os.getcwd() if start is None else str(start.resolve())  # getcwd is already resolved
    return _search(here)


def _holds_repository(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, DIR_NAME, "config"))


def _search(here: str) -> Path:
    folder = here
    while True:
        if _holds_repository(folder):
            return Path(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            raise NotARepositoryError(f"not an artrepo repository (or any parent up to /): {here}; "
                                      "run 'artrepo init'")
        folder = parent


_OPEN: dict[Path, "Repository"] = {}


def active(root: Path | str | None = None) -> "Repository":
    """The repository containing `root` (default: the working directory), opened once per process."""
    top = find_root(Path(root) if root else None)
    repo = _OPEN.get(top)
    if repo is None:
        repo = _OPEN[top] = Repository(top)
    return repo


class Repository(Versions, Relabel, Deletions, Annotations, Runs):
    """An open artrepo repository."""

    def __init__(self, root: Path):
        from artrepo.gitdb.repo import Config, check_format

        self.root = Path(root).resolve()
        self.git_dir = self.root / DIR_NAME
        check_format(self.git_dir)
        self.objects = ObjectStore(self.git_dir)
        self.refs = RefsContainer(self.git_dir)
        self.config = Config(self.objects)
        self.tmp = layout.tmp_dir(self.git_dir)
        self._chunks: ChunkStore | None = None
        self._records: dict = {}
        self.label_hints: dict[str, str] = {}  # version id -> a label it was published under (checked before use)
        self.step_code: dict[str, bytes] = {}  # blob id -> step code a run's pack will hold (Runs.write_code)
        self._origins = None
        # Called with a chunk id the store lacks (remotes fetch it on demand).
        self.fetch_missing = None

    @property
    def chunks(self) -> ChunkStore:
        """The chunk store, opened (and its index read) on first use only."""
        if self._chunks is None:
            from artrepo.storage.chunkstore import ChunkStore

            self._chunks = ChunkStore(layout.chunks_dir(self.git_dir))
            self._chunks.fetch_missing = self.fetch_missing
        return self._chunks

    @classmethod
    def init(cls, root: Path) -> "Repository":
        from artrepo.gitdb.repo import init_git

        root = Path(root).resolve()
        git_dir = root / DIR_NAME
        if (git_dir / "config").exists():
            return cls(root)
        root.mkdir(parents=True, exist_ok=True)
        init_git(git_dir, {"hash": "blake3", "chunker": "fastcdc-2020/32k-128k-512k", "compression": "zstd-1"})
        for sub in layout.INIT_FOLDERS:
            (git_dir / sub).mkdir(parents=True, exist_ok=True)
        return cls(root)

    @classmethod
    def find(cls, start: Path | None = None) -> "Repository":
        return cls(find_root(start))

    def close(self) -> None:
        if self._chunks is not None:
            self._chunks.close()

    # -- locks ----------------------------------------------------------------------------
    def saving(self):
        """Held (shared) by every save from its first chunk to its ref; gc takes it exclusively.

        A save may reuse chunks of a pack no ref reaches yet: without this lock
        a concurrent gc could delete that pack between the dedup check and the ref.
        """
        from artrepo.atomic import flock

        return flock(layout.gc_lock(self.git_dir), shared=True)

    def lock(self, name: str):
        """The per-name lock that serializes version allocation (it also keeps the name's label counter)."""
        from artrepo.repository.labels import NameLock

        return NameLock(self.git_dir, name)

    def published_refs(self) -> dict[str, str]:
        """Every ref under refs/artrepo/ that a transfer exchanges (not derived): {name: oid}."""
        return {name: oid for name, oid in self.refs.all(layout.PREFIX).items()
                if layout.ref_kind(name) != "derived" and is_oid(oid)}

    # -- trust ----------------------------------------------------------------------------
    @property
    def origins(self):
        """Which remote each pulled version came from (origins.py), read on first use."""
        if self._origins is None:
            from artrepo.repository.origins import Origins

            self._origins = Origins(self.git_dir)
        return self._origins

    def origin(self, version_id: str) -> str | None:
        """The remote a version was pulled from, or None if it was written here (local, never pushed)."""
        return self.origins.get(version_id)

    def trusts(self, version_id: str) -> bool:
        """Whether loading this version may run code (pickles, materializer imports)."""
        return self.trusts_remote(self.origin(version_id))

    def trusts_remote(self, remote: str | None) -> bool:
        """Whether what came from `remote` (None: made here) may run code or delete versions here."""
        if remote is None:
            return True
        return (self.config.get(f"artrepo-remote.{remote}.trusted") or "").lower() == "true"
