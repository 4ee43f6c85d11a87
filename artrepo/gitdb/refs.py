"""The refs container: git refs read and updated in pure Python, compare-and-swap under locks.

    refs = RefsContainer(git_dir)
    refs.create("refs/artrepo/v/iris/1", commit, "save iris:1")
    with refs.transaction([run_ref, RUNS_HEAD]) as txn:
        txn.set(run_ref, lambda cur: commit if cur is None else None, "run p")
        txn.commit()

Reads: the loose file, then `packed-refs` (searched in place, packedrefs.py).
Every update takes, in order, the flock of the ref's stripe
(`layout.ref_stripe_lock`: the kernel drops it when its holder dies, so a git
`<ref>.lock` file found while holding it is stale and removed) and git's own
`<ref>.lock` file (O_EXCL: what git and libgit2 take), re-reads the ref under
the locks, asks `decide(current)` for the new value, appends the reflog line
(aliases, annotations and refs/heads/* only: `layout.keeps_reflog`) and
renames the lock file into place. A publishing (durable) update first makes
every object written before it durable with one filesystem sync, so no ref
ever names an object a crash could lose; a derived ref skips the syncs, and a
torn derived ref reads as absent.

`pack()` moves loose refs into `packed-refs` as `git pack-refs --all` does
(the new file first, then each loose file that still holds the packed value,
under its stripe's lock), holding one stripe lock at a time: packing 100,000
refs never nears the open-files limit.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from artrepo.atomic import flock, fsync_dir, open_creating, sync_filesystem
from artrepo.errors import IntegrityError, RefLockedError
from artrepo.gitdb import layout
from artrepo.gitdb.files import (append_reflog, loose_refs, read_file, read_loose, remove_empty_folders,
                                 replace_packed, take_lock_file)
from artrepo.gitdb.layout import PREFIX
from artrepo.gitdb.objects import is_oid
from artrepo.gitdb.packedrefs import packed_refs

Decide = Callable[[str | None], str | None]
BULK = 64  # a transaction creating more refs than this writes them into packed-refs at once



class RefsContainer:
    """The refs of one repository."""

    def __init__(self, git_dir: Path):
        self.git_dir = Path(git_dir)

    # -- reading ----------------------------------------------------------------------
    def get(self, name: str, *, derived: bool = False) -> str | None:
        """The oid a ref holds, None if absent; IntegrityError for a damaged one.

        A `derived` ref (written without fsync, rebuilt by the next writer)
        whose file a crash left empty or torn reads as absent.
        """
        try:
            data = read_file(os.path.join(self.git_dir, name), 128)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            oid = packed_refs(self.git_dir).get(name)
            if oid is not None and not is_oid(oid):
                raise IntegrityError(f"damaged ref {name} in packed-refs") from None
            return oid
        text = data.decode("ascii", "replace").rstrip("\n")
        if is_oid(text):
            return text
        if text.startswith("ref: "):
            return self.get(text[5:].strip(), derived=derived)
        if derived:
            return None
        raise IntegrityError(f"damaged ref {name}: {text[:40]!r} is not an object id")

    # Loose files are read before `packed-refs`: packing writes the new
    # packed-refs before it deletes the loose files it packed, so a loose ref that
    # vanishes during a listing is in the packed-refs read after it.

    def list_prefix(self, prefix: str) -> dict[str, str]:
        """Refs under `prefix/` one level deep, {last component: oid}, loose winning over packed.

        Reads one folder and the packed refs under the prefix, never every ref.
        A damaged loose ref is listed as '<empty ref>' so that reading it fails loudly later.
        """
        loose = {}
        try:
            entries = list(os.scandir(os.path.join(self.git_dir, prefix)))
        except (FileNotFoundError, NotADirectoryError):
            entries = []
        for e in entries:
            if not e.name.endswith(".lock") and e.is_file():
                text = read_loose(e.path, 64)
                if text is not None:
                    loose[e.name] = text or "<empty ref>"
        cut = len(prefix) + 1
        out = {ref[cut:]: oid for ref, oid in packed_refs(self.git_dir).items(prefix + "/") if "/" not in ref[cut:]}
        out.update(loose)
        return out

    def list_folders(self, prefix: str) -> set[str]:
        """Names of the sub-folders of `prefix/` (loose or packed)."""
        try:
            out = {e.name for e in os.scandir(os.path.join(self.git_dir, prefix)) if e.is_dir()}
        except FileNotFoundError:
            out = set()
        return out | packed_refs(self.git_dir).folders(prefix)

    def all(self, prefix: str = PREFIX) -> dict[str, str]:
        """Every ref under `prefix` as {name: raw value}, loose winning over packed (values unchecked)."""
        out = dict(packed_refs(self.git_dir).items(prefix))
        out.update(loose_refs(self.git_dir, prefix))
        return out

    def reflog(self, name: str) -> list[tuple[str, int, str]]:
        """(new oid, time in seconds, message), newest first."""
        try:
            text = read_file(os.path.join(self.git_dir, "logs", name)).decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            head, _, message = line.partition("\t")
            fields = head.split(" ")
            if len(fields) >= 4 and is_oid(fields[1]) and fields[-2].isdigit():
                out.append((fields[1], int(fields[-2]), message))
        return out[::-1]

    # -- updating ---------------------------------------------------------------------
    def update(self, name: str, decide: Decide, message: str, *, durable: bool = True) -> str | None:
        """Under the ref's locks set it to `decide(current)`; returns its value afterwards.

        `decide` answering None (or the current value) leaves the ref as it is.
        """
        with self.transaction([name], durable=durable) as txn:
            value = txn.set(name, decide, message)
            txn.commit()
        return value

    def create(self, name: str, oid: str, message: str = "create", *, durable: bool = True) -> bool:
        """Point a new ref `name` at `oid`; False if it already exists."""
        return self.update(name, lambda cur: oid if cur is None else None, message, durable=durable) == oid

    def compare_and_swap(self, name: str, expected: str | None, oid: str, message: str) -> bool:
        return self.update(name, lambda cur: oid if cur == expected else None, message) == oid

    def delete(self, name: str, expected: str) -> bool:
        """Remove a ref (loose and packed) if it still holds `expected`; False otherwise."""
        return name in self.delete_many({name: expected})

    def delete_many(self, expected: dict[str, str]) -> set[str]:
        """Remove the refs that still hold their expected value (packed-refs rewritten once); returns those."""
        if not expected:
            return set()
        with _StripeLocks(self.git_dir, expected), flock(layout.packed_refs_lock(self.git_dir)):
            locks = [take_lock_file(self.git_dir, name) for name in expected]
            try:
                gone = {name for name, oid in expected.items() if self.get(name, derived=True) == oid}
                packed = packed_refs(self.git_dir)
                in_packed = {name for name in gone if name in packed}
                if in_packed:
                    replace_packed(self.git_dir, packed.edited({}, in_packed))
                for name in gone:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.git_dir / name)
                for folder in {(self.git_dir / name).parent for name in gone}:
                    fsync_dir(folder)
                return gone
            finally:
                for lock_path in locks:
                    lock_path.unlink(missing_ok=True)
                for name in expected:
                    remove_empty_folders(self.git_dir, name)

    def transaction(self, names=(), *, durable: bool = True) -> "RefTransaction":
        """Ref updates made durable together (see `RefTransaction`); lock `names` up front."""
        return RefTransaction(self, durable, names)

    # -- packing ----------------------------------------------------------------------
    def pack(self) -> int:
        """Move every loose ref (valid, not symbolic) into packed-refs; returns how many were packed."""
        with flock(layout.packed_refs_lock(self.git_dir)):
            loose = {name: text for name, text in loose_refs(self.git_dir, "refs").items() if is_oid(text)}
            if loose:
                replace_packed(self.git_dir, packed_refs(self.git_dir).edited(loose))
        by_stripe: dict[int, dict[str, str]] = {}
        for name, oid in loose.items():
            by_stripe.setdefault(layout.ref_stripe(name), {})[name] = oid
        for stripe, refs in sorted(by_stripe.items()):
            with flock(layout.ref_stripe_lock(self.git_dir, stripe)):
                for name, oid in refs.items():
                    self._prune_loose(name, oid)
        return len(loose)

    def _prune_loose(self, name: str, packed_value: str) -> None:
        """Delete a loose ref that holds the value just packed (the caller holds its stripe lock)."""
        lock_path = take_lock_file(self.git_dir, name)
        try:
            if read_loose(str(self.git_dir / name), 64) == packed_value:
                os.unlink(self.git_dir / name)
        finally:
            lock_path.unlink(missing_ok=True)
        remove_empty_folders(self.git_dir, name)

    def loose_count(self, prefix: str = "refs", limit: int | None = None) -> int:
        """How many loose ref files there are under `prefix` (counting stops at `limit`)."""
        count = 0
        for _folder, _dirs, files in os.walk(self.git_dir / prefix):
            count += sum(1 for f in files if not f.endswith(".lock"))
            if limit is not None and count >= limit:
                break
        return count


class _StripeLocks(contextlib.AbstractContextManager):
    """The stripe flocks of a set of refs, taken in stripe order (no deadlock between transactions)."""

    def __init__(self, git_dir: Path, names=()):
        self.git_dir = git_dir
        self.held: dict[int, int] = {}
        self.take(names)

    def take(self, names) -> None:
        for stripe in sorted({layout.ref_stripe(n) for n in names} - set(self.held)):
            self._acquire(stripe, block=not self.held or stripe > max(self.held))

    def _acquire(self, stripe: int, block: bool) -> None:
        fd = open_creating(layout.ref_stripe_lock(self.git_dir, stripe), os.O_RDWR)
        try:
            if block:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:  # below a stripe we hold: waiting could deadlock, so poll and give up
                for attempt in range(500):
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        time.sleep(0.01)
                else:
                    raise RefLockedError("refs stayed locked by another writer; try again")
        except BaseException:
            os.close(fd)
            raise
        self.held[stripe] = fd

    def release(self) -> None:
        for fd in self.held.values():
            os.close(fd)
        self.held.clear()

    def __exit__(self, *exc):
        self.release()


class RefTransaction(contextlib.AbstractContextManager):
    """Refs updated together: `set` each, then `commit` once.

    The stripe locks of the refs named when it is opened are taken at once, in
    stripe order; a ref `set` later takes its own. `set` writes git's lock file
    with the new value (a new ref in a transaction of more than `BULK`
    creations gets none: those go into packed-refs together). `commit` appends
    the reflog lines, then, when durable, runs one `sync_filesystem` (which also
    covers the loose objects written before) before renaming every lock file
    into place and fsyncing the folders of the refs that publish something
    (derived refs need not survive a crash). Lock files not committed are removed.
    """

    def __init__(self, refs: RefsContainer, durable: bool, names=()):
        self.refs = refs
        self.git_dir = refs.git_dir
        self.durable = durable
        names = list(names)
        self._bulk = len(names) > BULK
        self._locks = _StripeLocks(self.git_dir, names)
        self._pending: list[tuple[Path | None, str, str | None, str, str]] = []  # (lock file, name, old, new, message)
        self._upfront = set(names) if self._bulk else set()  # their stripes are held: none of them can change
        self._listed: dict[str, set[str]] = {}  # folder -> loose ref files, listed once (bulk, upfront refs)
        self._packed = None  # packed-refs as first read for those refs

    def __exit__(self, *exc):
        self.close()

    def set(self, name: str, decide: Decide, message: str) -> str | None:
        """Lock `name` and stage `decide(current)`; returns the value the ref will hold."""
        if name in self._upfront:
            current = self._held_value(name)
        else:
            self._locks.take([name])
            current = self.refs.get(name, derived=not self.durable) if self._bulk else None
        if self._bulk:
            new = decide(current)
            if new is None or new == current:
                return current
            if current is None:
                check_oid(new)
                self._pending.append((None, name, None, new, message))
                return new
        lock_path, fd = take_lock_file(self.git_dir, name, keep_open=True)
        try:
            current = self.refs.get(name, derived=not self.durable)
            new = decide(current)
            if new is None or new == current:
                lock_path.unlink()
                return current
            check_oid(new)
            os.write(fd, f"{new}\n".encode())
        except BaseException:
            lock_path.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        self._pending.append((lock_path, name, current, new, message))
        return new

    def _held_value(self, name: str) -> str | None:
        """`refs.get` of a ref locked since the transaction began, its folder listed and packed-refs read once
        for all such refs: only the holder of a ref's stripe creates, changes or removes it (`pack` copies a
        loose ref into packed-refs unchanged and removes the loose file under the stripe)."""
        folder, _, leaf = name.rpartition("/")
        listed = self._listed.get(folder)
        if listed is None:
            try:
                listed = self._listed[folder] = set(os.listdir(self.git_dir / folder))
            except (FileNotFoundError, NotADirectoryError):
                listed = self._listed[folder] = set()
        if leaf in listed:
            return self.refs.get(name, derived=not self.durable)
        if self._packed is None:
            self._packed = packed_refs(self.git_dir)
        oid = self._packed.get(name)
        if oid is not None and not is_oid(oid):
            raise IntegrityError(f"damaged ref {name} in packed-refs")
        return oid

    def commit(self, before: Callable[[], None] | None = None) -> None:
        """Move the refs set. `before()` runs after the sync, before anything names the new values (if a
        ref moves): `objects.Batch.land` puts the objects they name in place. The reflog lines then follow
        it, unsynced (git fsck rejects a line naming a missing object; a crash may drop the line)."""
        if not self._pending:
            return
        if before is None:
            self._reflog()
        if self.durable:
            sync_filesystem(self.git_dir)
        if before is not None:
            before()
            self._reflog()
        packed = {name: new for lock_path, name, _old, new, _m in self._pending if lock_path is None}
        if packed:
            with flock(layout.packed_refs_lock(self.git_dir)):
                replace_packed(self.git_dir, packed_refs(self.git_dir).edited(packed), durable=self.durable)
        for lock_path, name, *_ in self._pending:
            if lock_path is not None:
                os.replace(lock_path, self.git_dir / name)
        folders = {(self.git_dir / name).parent for lock_path, name, *_ in self._pending
                   if lock_path is not None and layout.ref_kind(name) != "derived"}
        self._pending = []
        self._packed, self._listed = None, {}  # written meanwhile
        if self.durable:
            for folder in folders:
                fsync_dir(folder)

    def _reflog(self) -> None:
        for _, name, old, new, message in self._pending:
            if layout.keeps_reflog(name):
                append_reflog(self.git_dir, name, old, new, message)

    def close(self) -> None:
        for lock_path, *_ in self._pending:
            if lock_path is not None:
                lock_path.unlink(missing_ok=True)
        self._pending = []
        self._locks.release()


def check_oid(value: str) -> None:
    if not is_oid(value):
        raise ValueError(f"not an object id: {value!r}")
