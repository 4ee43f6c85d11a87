"""A remote as fsck, gc and du see it: what its own objects prove, nothing else.

    with open_view(repo, "origin") as view:
        report = fsck(view)          # artrepo.maintenance: the same code as for the local repository

It offers what `artrepo.maintenance.view` describes. The remote's git packs
are imported (through `git index-pack --strict`) into a scratch repository
under `.artrepo/tmp/`, never into the local one, so an object the local
repository happens to hold cannot hide one the remote lacks. Index files are
read from the remote (never from the local cache) and checked against their
names; packs are listed with their sizes and ages in one listing. Damage is
collected in `problems` instead of raised, so one bad object does not hide
the rest.
"""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from artrepo.errors import IntegrityError, NotFoundError
from artrepo.remotes.config import get_remote, open_remote
from artrepo.remotes.gitpacks import git_pack_key, import_git_pack
from artrepo.remotes.reftable import FOLDER as TABLES_FOLDER, table_key
from artrepo.remotes.state import RemoteState, read_state, write_state
from artrepo.repository import Repository
from artrepo.storage.backend import MissingObjectError, ObjectInfo
from artrepo.storage.chunkstore import ChunkStore
from artrepo.storage.index import FOLDER as INDEX_FOLDER

GIT_FOLDER = "git"


class RemoteView:
    leftover_age = 0.0

    def __init__(self, repo, remote_name: str):
        remote = get_remote(repo, remote_name)
        self.name = remote.name
        self.backend = open_remote(remote)
        self.state = read_state(self.backend)
        if not self.state.exists:
            raise NotFoundError(f"remote {remote.name} ({remote.url}) holds no artrepo repository yet")
        repo.tmp.mkdir(parents=True, exist_ok=True)
        self._folder = Path(tempfile.mkdtemp(dir=repo.tmp, prefix="remote-view-"))
        self.reader = Repository.init(self._folder)  # holds the remote's git objects only
        self.git_dir = self.reader.git_dir
        self.store: ChunkStore | None = None
        self._imported: set[str] = set()
        try:
            self.refresh(self.state)
        except BaseException:
            self.close()
            raise

    def refresh(self, state: RemoteState | None = None) -> None:
        """Read the ref table, the git packs and index files it names, and the listing, again."""
        self.state = state or read_state(self.backend)
        self.problems: list[tuple[str, tuple[str, ...]]] = []
        self._import_git()
        if self.store is None:
            self.store = ChunkStore(self.backend, index_files=self.state.index_files)
        else:
            self.store.index.use(self.state.index_files)
        listed = {f"{INDEX_FOLDER}/{n}" for n in self.state.index_files}
        listed |= {git_pack_key(n) for n in self.state.git_packs}
        if self.state.base is not None:
            listed.add(table_key(self.state.base))
        self._files = {**self.backend.stat_prefix(INDEX_FOLDER), **self.backend.stat_prefix(GIT_FOLDER),
                       **self.backend.stat_prefix(TABLES_FOLDER)}
        self._unlisted = {key: info for key, info in self._files.items() if key not in listed}

    def _import_git(self) -> None:
        for name in self.state.git_packs:
            if name in self._imported:
                continue
            try:
                import_git_pack(self.reader, name, self.backend.get(git_pack_key(name)))
                self._imported.add(name)
            except MissingObjectError:
                self.problems.append((f"git pack {name[:12]} named by the ref table is missing", ()))
            except IntegrityError as exc:
                self.problems.append((f"git pack {name[:12]}: {exc}", ()))
        lines = [f"update {ref} {oid}\n" for ref, oid in sorted(self.state.refs.items())
                 if self.reader.objects.contains(oid)]
        if lines:  # refs for git fsck's connectivity check
            subprocess.run(["git", "--git-dir", str(self.git_dir), "update-ref", "--stdin"],
                           input="".join(lines).encode(), check=True, capture_output=True)

    def refs(self) -> dict[str, str]:
        return dict(self.state.refs)

    def pulled(self) -> dict[str, str]:
        return {}

    def leftovers(self) -> dict[str, ObjectInfo]:
        """Index files, git packs and base ref tables the ref table does not name (left by interrupted or
        superseded pushes)."""
        return dict(self._unlisted)

    def remove(self, key: str) -> None:
        self.backend.delete(key)

    def adopt_index(self, names: list[str]) -> bool:
        """One conditional write of the ref table naming exactly these index files."""
        state = self.state
        return write_state(self.backend, state, state.with_index(names)) is not None

    def metadata_bytes(self) -> int:
        return sum(info.size for info in self._files.values())

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        self.reader.close()
        shutil.rmtree(self._folder, ignore_errors=True)


@contextlib.contextmanager
def open_view(repo, remote_name: str):
    """The remote named `remote_name` of `repo` as maintenance sees it; the scratch repository goes afterwards."""
    view = RemoteView(repo, remote_name)
    try:
        yield view
    finally:
        view.close()

