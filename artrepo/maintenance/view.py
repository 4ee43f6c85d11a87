"""What fsck, gc and du work on: a view of one repository's or one remote's refs and content store.

Maintenance code never asks where the data lives; a view gives

    name            None for the local repository, else the remote's name (messages)
    refs()          every ref under refs/artrepo/ as {ref: raw text}: damage shows, is not fatal
    reader          records and manifests: .record(oid), .manifest(oid), .objects (commit,
                    tree_file, tree_listing, blob)
    reach_cache()   what each commit was found to hold before (reachcache.py), or None
    store           the ChunkStore, its index what this side's index files say
    git_dir         the bare git repository stock `git fsck` checks
    problems        [(message, versions affected)] found while opening (a git pack the ref table names)
    pulled()        {version id: remote} of versions whose data may be absent here (pulled with
                    --metadata-only, or written by workers into a stack's remote): their chunks
                    are looked for in that remote's index
    remote_store(remote)   that remote's ChunkStore (its index as its ref table lists it; damaged
                    index files left out, in `index.damaged`); raises when it cannot be read
    leftovers()     {key: ObjectInfo}: what interrupted writers left besides packs
    leftover_age    their minimum age, besides the grace period, before gc removes them
    remove(key)     delete one leftover
    retires         whether what gc replaces stays for the grace period (a remote's readers may have
                    read its previous ref table) instead of going at once
    retired()       {key: (when gc replaced it, ObjectInfo or None for a pack)}: what waits for that
    git_packs()     {name: key} of the git packs a remote's table names; merge_git() writes one pack
                    of what its refs reach instead: (name, key), or None
    adopt_index(names, git_packs=None, retired=None) -> bool   make the index exactly these files (and
                    a remote's git packs and retired objects these; False: another writer got there
                    first; `refresh()` and plan again)
    metadata_bytes()   bytes of index files and git objects

`LocalView` is here; `artrepo.remotes.view` opens a remote's (the command
composes it: maintenance never imports remotes).
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from artrepo.errors import IntegrityError
from artrepo.gitdb import layout
from artrepo.maintenance.inventory import artrepo_refs
from artrepo.repository import Repository
from artrepo.storage.backend import ObjectInfo

TEMP_MIN_AGE = 24 * 3600  # a writer's temp files are in use for as long as it runs, and nothing says whether it still does


class LocalView:
    """The local repository as maintenance sees it."""

    name = None
    leftover_age = TEMP_MIN_AGE
    retires = False  # local readers re-read the index folder and retry a pack gone (ChunkStore)
    git_sees_every_ref = True  # stock git fsck reports a ref whose commit is missing

    def __init__(self, repo: Repository, remote_store=None):
        self.repo = self.reader = repo
        self._remote_store = remote_store  # remote name -> ChunkStore (the command composes it from remotes/)
        self.git_dir = repo.git_dir
        self.store = repo.chunks
        self.store.index.refresh()
        self.problems: list[tuple[str, tuple[str, ...]]] = []
        self._refs: dict[str, str] | None = None

    def refs(self) -> dict[str, str]:
        """Every ref under refs/artrepo/ (read once per view, until `refresh`)."""
        if self._refs is None:
            self._refs = artrepo_refs(self.git_dir)
        return self._refs

    def reach_cache(self):
        """What each commit was found to hold before (reachcache.py), or None."""
        from artrepo.maintenance.reachcache import open_cache

        return open_cache(self.git_dir)

    def pulled(self) -> dict[str, str]:
        out = self.repo.origins.all()
        stored_on = layout.stored_on_dir(self.git_dir)  # written by a stack's workers into its remote
        for oid in os.listdir(stored_on) if stored_on.is_dir() else ():
            if oid not in out and (remote := (stored_on / oid).read_text().strip()):
                out[oid] = remote
        return out

    def remote_store(self, remote: str):
        if self._remote_store is None:
            raise IntegrityError("remotes are not read here")
        return self._remote_store(remote)

    def leftovers(self) -> dict[str, ObjectInfo]:
        """`.artrepo/tmp/*` and the `.tmp-*` files of crashed writers in the chunk folders."""
        root = self.store.root
        candidates = list(layout.tmp_dir(self.git_dir).glob("*"))
        for folder in (root / "index", *(root / "packs").glob("*")):
            candidates += folder.glob(".tmp-*")
        out = {}
        for path in candidates:
            with contextlib.suppress(FileNotFoundError):
                st = path.lstat()
                out[str(path)] = ObjectInfo(st.st_size, st.st_mtime)
        return out

    def remove(self, key: str) -> None:
        path = Path(key)
        if path.is_dir() and not path.is_symlink():
            for folder, _dirs, _files in os.walk(path):
                with contextlib.suppress(OSError):
                    os.chmod(folder, 0o755)
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def retired(self) -> dict:
        return {}

    def git_packs(self) -> dict[str, str]:
        return {}  # git's own gc packs the local repository (gc.pack_git)

    def merge_git(self) -> None:
        return None

    def adopt_index(self, names: list[str], git_packs=None, retired=None) -> bool:
        return True  # the index is every file in index/: gc removes the others next

    def refresh(self) -> None:
        self.store.index.refresh()
        self._refs = None

    def metadata_bytes(self) -> int:
        index = sum(i.size for i in self.store.backend.stat_prefix("index").values())
        return index + sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(self.git_dir / "objects")
                           for f in files)
