"""A run's objects as one git pack: held in memory, written as a pack and its `.idx`, put in place by a ref transaction.

    with objects.batch() as batch:
        tree = objects.write_tree(...)           # read back as any object, in this thread
        with refs.transaction([...]) as txn:
            txn.set(...)
            batch.stage()                       # the pack and .idx under temporary names
            txn.commit(before=batch.land)        # after its filesystem sync, before any ref moves

A run writes ~20 small objects; as loose objects each is a new file (and
often a new folder), and creating files is what a cached run waited on
(ext4 allocating inodes near ones freed moments ago: docs/performance.md).
As one pack they are two files, as a small git fetch would be. An object
there already (loose, or in a pack, whose mtime is then renewed as git
freshens it) is not written again. The pack and its `.idx` are written
without fsync under `tmp_pack_*`/`tmp_idx_*` names (what a crash leaves is
a temporary file `git gc` removes once older than its prune time); the ref
transaction's one `syncfs` makes them durable, then `land` renames the pack,
then the `.idx` (readers, git's included, find packs by their `.idx`; a
`.pack` without one is never read, and `git gc` removes it), and fsyncs the
folder, before the first ref names them. Objects still held or staged when
the batch ends land then, fsynced; an exception drops them (no ref names
them). Other threads write loose objects meanwhile.
"""
from __future__ import annotations

import os
from _thread import get_ident
from pathlib import Path

from artrepo.gitdb.gitpack import GitPack
from artrepo.gitdb.packwriter import PackBuilder, StagedPack


class Batch:
    """The objects one thread writes to an `ObjectStore` until it ends (`ObjectStore.batch`; see the module)."""

    def __init__(self, store):
        self.store = store
        self.objects: dict[str, tuple[str, bytes]] = {}  # held, not staged yet
        self._staged: list[tuple[StagedPack, dict[str, tuple[str, bytes]]]] = []  # read from memory until landed
        self._fresh: set = set()  # packs made young again

    def __enter__(self) -> "Batch":
        if get_ident() in self.store._batches:
            raise RuntimeError("a batch of objects is open in this thread already")
        self.store._batches[get_ident()] = self
        return self

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if kind is None:
                self.stage()
                self.land(synced=False)
        finally:
            del self.store._batches[get_ident()]
            for staged, _objects in self._staged:
                staged.abort()

    def get(self, oid: str) -> tuple[str, bytes] | None:
        found = self.objects.get(oid)
        for _staged, objects in self._staged if found is None else ():
            found = objects.get(oid)
            if found is not None:
                break
        return found

    def add(self, oid: str, kind: str, body: bytes) -> None:
        """Hold an object not stored loose (`ObjectStore.write` looked), unless a pack holds it."""
        if self.get(oid) is None and not self._freshen_packed(oid):
            self.objects[oid] = (kind, body)

    def _freshen_packed(self, oid: str) -> bool:
        """Whether a pack holds the object; if so its pack is made young again (as git freshens a pack)."""
        found = self.store._find_packed(bytes.fromhex(oid), refresh=False)
        if found is None:
            return False
        if found[0].pack_path not in self._fresh:
            try:
                os.utime(found[0].pack_path)
            except OSError:
                return False  # replaced by a repack meanwhile: write the object again
            self._fresh.add(found[0].pack_path)
        return True

    def stage(self) -> None:
        """Write the objects held so far as a pack and `.idx` under temporary names (no fsync)."""
        if self.objects:
            builder = PackBuilder(Path(self.store.git_dir) / "objects" / "pack")
            try:
                for oid, (kind, body) in self.objects.items():
                    builder.add(bytes.fromhex(oid), kind, body)
                staged = builder.stage(durable=False)
            except BaseException:
                builder.abort()
                raise
            self._staged.append((staged, self.objects))
            self.objects = {}

    def land(self, synced: bool = True) -> None:
        """Put the staged packs in place (`synced`: a filesystem sync since `stage` made their data durable)."""
        while self._staged:
            idx = self._staged[0][0].land(synced=synced)
            self._staged.pop(0)
            if self.store._packs is not None:
                self.store._packs.insert(0, GitPack(idx))  # the objects read next are likely these
