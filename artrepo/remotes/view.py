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
the rest. gc also merges the git packs into one (`merge_git`) and publishes
what it rewrote with one conditional write of the ref table (`adopt_index`),
which records the objects it replaced as retired (state.py).
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from artrepo.errors import IntegrityError, NotFoundError
from artrepo.gitdb.files import replace_packed
from artrepo.gitdb.packedrefs import HEADER, PackedRefs
from artrepo.remotes.config import get_remote, open_remote
from artrepo.gitdb.packs import build_pack
from artrepo.remotes.gitpacks import git_pack_key, import_git_pack
from artrepo.remotes.reftable import FOLDER as TABLES_FOLDER, table_key
from artrepo.remotes.state import RemoteState, read_state, write_state
from artrepo.repository import Repository
from artrepo.storage.backend import MissingObjectError, ObjectInfo
from artrepo.storage.chunkstore import ChunkStore
from artrepo.storage.ids import file_name
from artrepo.storage.index import FOLDER as INDEX_FOLDER, index_key

GIT_FOLDER = "git"


class RemoteView:
    leftover_age = 0.0
    retires = True
    git_sees_every_ref = False  # refs whose commit is absent are left out of the scratch repository's packed-refs

    def __init__(self, repo, remote_name: str, reach_cache=None):
        remote = get_remote(repo, remote_name)
        self._reach_cache = reach_cache  # makes the cache of what each commit holds (maintenance composes it)
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
        listed = self._listed = {index_key(n) for n in self.state.index_files} | set(self.git_packs().values())
        if self.state.base is not None:
            listed.add(table_key(self.state.base))
        self._files = {**self.backend.stat_prefix(INDEX_FOLDER), **self.backend.stat_prefix(GIT_FOLDER),
                       **self.backend.stat_prefix(TABLES_FOLDER)}
        self._unlisted = {key: info for key, info in self._files.items()
                          if key not in listed and key not in self.state.retired}

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
        # the refs, for git fsck's connectivity check: one packed-refs file (not a loose file per ref)
        self.reader.objects.packs(refresh=True)
        absent = self.reader.objects.missing_among(self.state.refs.values())
        refs = {ref: oid for ref, oid in self.state.refs.items() if oid not in absent}
        replace_packed(self.git_dir, PackedRefs(HEADER).edited(refs), durable=False)

    def refs(self) -> dict[str, str]:
        return dict(self.state.refs)

    def reach_cache(self):
        return self._reach_cache() if self._reach_cache is not None else None

    def pulled(self) -> dict[str, str]:
        return {}

    def git_packs(self) -> dict[str, str]:
        """{name: key} of the git packs the table names."""
        return {name: git_pack_key(name) for name in self.state.git_packs}

    def retired(self) -> dict[str, tuple[int, ObjectInfo | None]]:
        """{key: (when the table stopped naming it, its size and age)} of the retired objects it does not name
        again; the age of a pack is in the store's listing (None here), that of a file gone is None."""
        return {key: (when, self._files.get(key)) for key, when in self.state.retired.items()
                if key not in self._listed}

    def merge_git(self) -> tuple[str, str] | None:
        """One git pack of every object the table's refs reach, uploaded (create-only): (name, key), or None
        when the table names one git pack already."""
        if len(self.state.git_packs) < 2:
            return None
        data = build_pack(self.reader.objects, set(self.state.refs.values()), ())
        if data is None:
            return None
        name = file_name(data)
        self.backend.put_content(git_pack_key(name), data)
        return name, git_pack_key(name)

    def leftovers(self) -> dict[str, ObjectInfo]:
        """Index files, git packs and base ref tables the ref table does not name (left by interrupted or
        superseded pushes)."""
        return dict(self._unlisted)

    def remove(self, key: str) -> None:
        self.backend.delete(key)

    def adopt_index(self, names: list[str], git_packs: list[str] | None = None,
                    retired: dict[str, int] | None = None) -> bool:
        """One conditional write of the ref table naming exactly these index files (and git packs, and
        retired objects, when given)."""
        state = self.state
        new = state.maintained(names, state.git_packs if git_packs is None else git_packs,
                               state.retired if retired is None else retired)
        return write_state(self.backend, state, new) is not None

    def metadata_bytes(self) -> int:
        return sum(info.size for info in self._files.values())

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        self.reader.close()
        shutil.rmtree(self._folder, ignore_errors=True)


@contextlib.contextmanager
def open_view(repo, remote_name: str, reach_cache=None):
    """The remote named `remote_name` of `repo` as maintenance sees it; the scratch repository goes afterwards.
    `reach_cache`: makes the cache of what each commit holds (maintenance.reachcache), or None."""
    view = RemoteView(repo, remote_name, reach_cache)
    try:
        yield view
    finally:
        view.close()

