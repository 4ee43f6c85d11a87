"""The refs container: git refs read and updated in pure Python, compare-and-swap under locks.

    refs = RefsContainer(git_dir)
    refs.create("refs/artrepo/v/iris/1", commit, "save iris:1")
    with refs.transaction() as txn:
        txn.set(run_ref, lambda cur: commit if cur is None else None, "run p")
        txn.commit()

Reads: the loose file, then `packed-refs` (cached by its stat). Every update
takes, in order, the per-ref flock `layout.ref_lock` (the kernel drops it when
its holder dies, so a git `<ref>.lock` file found while holding it is stale
and removed; gc packs refs under the same flocks) and git's own `<ref>.lock`
file (O_EXCL: what git and libgit2 take), re-reads the ref under the locks,
asks `decide(current)` for the new value, appends the reflog line and renames
the lock file into place. A publishing (durable) update first makes every
object written before it durable with one filesystem sync, so no ref ever
names an object a crash could lose; a derived ref skips the syncs, and a torn
derived ref reads as absent.
"""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from artrepo.atomic import flock, fsync_dir, sync_filesystem
from artrepo.errors import IntegrityError, RefLockedError
from artrepo.gitdb.layout import IDENTITY, PREFIX, ref_lock
from artrepo.gitdb.objects import is_oid, read_file

Decide = Callable[[str | None], str | None]
_ZERO = "0" * 40
_PACKED: dict[str, tuple[tuple, dict[str, str]]] = {}


def packed_refs(git_dir: Path) -> dict[str, str]:
    """{ref: oid} of `packed-refs` (peeled lines skipped), re-read only when the file changed."""
    path = os.path.join(git_dir, "packed-refs")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _PACKED.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    refs = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if line[:1] not in "#^" and len(line) > 41:
                refs[line[41:].rstrip("\n")] = line[:40]
    _PACKED[path] = (stamp, refs)
    return refs


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

    # Loose files are read before `packed-refs`: `git pack-refs` writes the new
    # packed-refs before it deletes the loose files it packed, so a loose ref that
    # vanishes during a listing is in the packed-refs read after it.

    def list_prefix(self, prefix: str) -> dict[str, str]:
        """Refs under `prefix/` one level deep, {last component: oid}, loose winning over packed.

        Reads one folder and `packed-refs`, never every ref. A damaged loose ref
        is listed as '<empty ref>' so that reading it fails loudly later.
        """
        loose = {}
        try:
            entries = list(os.scandir(os.path.join(self.git_dir, prefix)))
        except (FileNotFoundError, NotADirectoryError):
            entries = []
        for e in entries:
            if not e.name.endswith(".lock") and e.is_file():
                text = _read_loose(e.path, 64)
                if text is not None:
                    loose[e.name] = text or "<empty ref>"
        start = prefix + "/"
        out = {ref[len(start):]: oid for ref, oid in packed_refs(self.git_dir).items()
               if ref.startswith(start) and "/" not in ref[len(start):]}
        out.update(loose)
        return out

    def list_folders(self, prefix: str) -> set[str]:
        """Names of the sub-folders of `prefix/` (loose or packed)."""
        try:
            out = {e.name for e in os.scandir(os.path.join(self.git_dir, prefix)) if e.is_dir()}
        except FileNotFoundError:
            out = set()
        start = prefix + "/"
        out.update(ref[len(start):].split("/", 1)[0] for ref in packed_refs(self.git_dir)
                   if ref.startswith(start) and "/" in ref[len(start):])
        return out

    def all(self, prefix: str = PREFIX) -> dict[str, str]:
        """Every ref under `prefix` as {name: raw value}, loose winning over packed (values unchecked)."""
        loose = {}
        for folder, _dirs, files in os.walk(self.git_dir / prefix):
            for fname in files:
                if not fname.endswith(".lock"):
                    path = os.path.join(folder, fname)
                    text = _read_loose(path, 200)
                    if text is not None:
                        loose[Path(path).relative_to(self.git_dir).as_posix()] = text
        out = {ref: oid for ref, oid in packed_refs(self.git_dir).items() if ref.startswith(prefix)}
        out.update(loose)
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
        with self.transaction(durable=durable) as txn:
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
        with flock(ref_lock(self.git_dir, name)):
            lock_path = _take_lock_file(self.git_dir, name)
            try:
                if self.get(name, derived=True) != expected:
                    return False
                if name in packed_refs(self.git_dir):
                    _drop_packed(self.git_dir, name)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.git_dir / name)
                fsync_dir((self.git_dir / name).parent)
                return True
            finally:
                lock_path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def transaction(self, durable: bool = True):
        """Ref updates made durable together (see `RefTransaction`)."""
        txn = RefTransaction(self, durable)
        try:
            yield txn
        finally:
            txn.close()


class RefTransaction:
    """Refs updated together: `set` each, then `commit` once.

    `set` takes the ref's flock (held until the transaction ends) and writes
    git's lock file with the new value. `commit` appends the reflog lines,
    then, when durable, runs one `sync_filesystem` (which also covers the
    loose objects written before) before renaming every lock file into place
    and fsyncing their folders: one sync for all refs where per-ref fsyncs
    would take three each. Lock files not committed are removed.
    """

    def __init__(self, refs: RefsContainer, durable: bool):
        self.refs = refs
        self.git_dir = refs.git_dir
        self.durable = durable
        self._flocks = contextlib.ExitStack()
        self._pending: list[tuple[Path, str, str | None, str, str]] = []  # (lock file, name, old, new, message)

    def set(self, name: str, decide: Decide, message: str) -> str | None:
        """Lock `name` and stage `decide(current)`; returns the value the ref will hold."""
        self._flocks.enter_context(flock(ref_lock(self.git_dir, name)))
        lock_path = _take_lock_file(self.git_dir, name)
        try:
            current = self.refs.get(name, derived=not self.durable)
            new = decide(current)
            if new is None or new == current:
                lock_path.unlink()
                return current
            if not is_oid(new):
                raise ValueError(f"not an object id: {new!r}")
            fd = os.open(lock_path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, f"{new}\n".encode())
            finally:
                os.close(fd)
        except BaseException:
            lock_path.unlink(missing_ok=True)
            raise
        self._pending.append((lock_path, name, current, new, message))
        return new

    def commit(self) -> None:
        if not self._pending:
            return
        for _, name, old, new, message in self._pending:
            _append_reflog(self.git_dir, name, old, new, message)
        if self.durable:
            sync_filesystem(self.git_dir)
        for lock_path, name, *_ in self._pending:
            os.replace(lock_path, self.git_dir / name)
        folders = {(self.git_dir / name).parent for _, name, *_ in self._pending}
        self._pending = []
        if self.durable:
            for folder in folders:
                fsync_dir(folder)

    def close(self) -> None:
        for lock_path, *_ in self._pending:
            lock_path.unlink(missing_ok=True)
        self._pending = []
        self._flocks.close()


def _read_loose(path: str, limit: int) -> str | None:
    """A loose ref file's text, None if it vanished (packed or deleted meanwhile)."""
    try:
        return read_file(path, limit).decode("ascii", "replace").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"<unreadable: {exc}>"


def _take_lock_file(git_dir: Path, name: str, *, flocked: bool = True) -> Path:
    """git's `<name>.lock`, created exclusively.

    When the caller holds the ref's flock (`flocked`), a lock file found at
    once is stale (its writer held the flock and is gone) and is removed; one
    that appears meanwhile belongs to a writer outside artrepo's flocks (stock
    git), which holds it a moment.
    """
    lock_path = git_dir / (name + ".lock")
    if flocked:
        lock_path.unlink(missing_ok=True)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(100):
        try:
            os.close(os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            return lock_path
        except FileExistsError:
            time.sleep(min(0.05, 0.001 * (attempt + 1)))
    raise RefLockedError(f"ref {name} stayed locked by another writer; try again")


def _drop_packed(git_dir: Path, name: str) -> None:
    """Rewrite `packed-refs` without `name`, under git's `packed-refs.lock`."""
    lock_path = _take_lock_file(git_dir, "packed-refs", flocked=False)  # git pack-refs takes it too
    try:
        with open(git_dir / "packed-refs", encoding="utf-8", errors="surrogateescape") as f:
            lines = f.readlines()
        kept, skip_peeled = [], False
        for line in lines:
            if line.startswith("^"):
                if not skip_peeled:
                    kept.append(line)
                continue
            skip_peeled = line[41:].rstrip("\n") == name and line[:1] != "#"
            if not skip_peeled:
                kept.append(line)
        with open(lock_path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.writelines(kept)
            f.flush()
            os.fsync(f.fileno())
        os.replace(lock_path, git_dir / "packed-refs")
    finally:
        lock_path.unlink(missing_ok=True)


def _append_reflog(git_dir: Path, name: str, old: str | None, new: str, message: str) -> None:
    offset = time.localtime().tm_gmtoff // 60
    tz = f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    line = f"{old or _ZERO} {new} {IDENTITY} {int(time.time())} {tz}\t{' '.join(message.split())}\n"
    log = git_dir / "logs" / name
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
