"""Loose git objects and loose refs in pure Python, for paths that must not wait for pygit2.

Importing pygit2 costs more than a fully cached pipeline run, so the run
path reads and writes the simple cases itself, byte-compatible with git:

- reading answers `NotSimple` for anything unusual (an object that is not
  loose, fails its SHA-1 or is malformed; a symbolic or damaged ref); the
  caller then asks pygit2, which gives the authoritative answer or error;
- objects are written as git does (zlib of `<type> <size>\\0<body>`, temp
  file, rename, mode 0444), without fsync: the caller makes a batch durable
  with one `artrepo.atomic.sync_filesystem` before the ref that publishes it
  (`RefTransaction` runs it);
- a ref is updated with the same locks as `gitdb.refs.Refs.update`: the
  per-ref flock `locks/ref-<sha256[:24]>`, then git's `<ref>.lock` file
  (O_EXCL, the file libgit2 and git take), reflog line, rename.
"""
from __future__ import annotations

import contextlib
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from artrepo.atomic import flock, fsync_dir, sync_filesystem
from artrepo.errors import RefLockedError
from artrepo.gitdb.layout import IDENTITY, ref_lock

try:  # the interpreter's own SHA code: importing hashlib (OpenSSL) costs milliseconds
    from _sha1 import sha1
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import sha1

BLOB, TREE = "100644", "40000"
_HEX = frozenset("0123456789abcdef")
_BLOCK = 1 << 16


class NotSimple(Exception):
    """The pure-Python path does not handle this case: ask pygit2."""


def is_oid(text: str) -> bool:
    return len(text) == 40 and _HEX.issuperset(text)


def read_file(path: str, limit: int | None = None) -> bytes:
    """A small file's bytes (the first `limit` only, if given) without a Python file object.

    `open()` builds a buffered file object per call: half the time of reading
    a loose object, and `artrepo log` reads three per version.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if limit is not None:
            return os.read(fd, limit)
        data = os.read(fd, _BLOCK)
        if len(data) < _BLOCK:  # a short read of a regular file is its end
            return data
        parts = [data]
        while data := os.read(fd, _BLOCK):
            parts.append(data)
        return b"".join(parts)
    finally:
        os.close(fd)


# -- objects ---------------------------------------------------------------------
def read_object(git_dir: Path, oid: str) -> tuple[str, bytes]:
    """(type, body) of a loose object whose SHA-1 checks out; NotSimple otherwise."""
    if not is_oid(oid):
        raise NotSimple(oid)
    try:
        raw = zlib.decompress(read_file(f"{git_dir}/objects/{oid[:2]}/{oid[2:]}"))
    except (OSError, zlib.error):
        raise NotSimple(oid) from None
    header, sep, body = raw.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if not sep or not size.isdigit() or int(size) != len(body) or sha1(raw).hexdigest() != oid:
        raise NotSimple(oid)
    return kind.decode("ascii"), body


def tree_entries(body: bytes) -> dict[str, tuple[str, str]]:
    """{name: (mode, oid)} of a tree object's body."""
    out, pos = {}, 0
    while pos < len(body):
        space = body.index(b" ", pos)
        nul = body.index(b"\0", space)
        oid = body[nul + 1:nul + 21]
        if len(oid) != 20:
            raise NotSimple("truncated tree")
        out[body[space + 1:nul].decode("utf-8", "surrogateescape")] = (body[pos:space].decode("ascii"), oid.hex())
        pos = nul + 21
    return out


def commit_links(body: bytes) -> tuple[str, list[str]]:
    """(tree id, parent ids) from a commit object's header."""
    tree, parents = None, []
    for line in body.split(b"\n"):
        if not line:
            break
        key, _, value = line.partition(b" ")
        if key == b"tree":
            tree = value.decode("ascii")
        elif key == b"parent":
            parents.append(value.decode("ascii"))
    if tree is None or not is_oid(tree):
        raise NotSimple("commit without a tree")
    return tree, parents


def tree_file(git_dir: Path, commit: str, path: str, parsed: dict | None = None) -> bytes | None:
    """The blob at `path` in a commit's tree, None if there is none; NotSimple if not all loose.

    `parsed` (oid -> a commit's tree id, or a tree's entries) keeps what was
    read for the next call: objects never change, and the steps of a cached
    run all read the same commit and trees.
    """
    parsed = {} if parsed is None else parsed
    oid = parsed.get(commit)
    if oid is None:
        kind, body = read_object(git_dir, commit)
        if kind != "commit":
            raise NotSimple(commit)
        oid = parsed[commit] = commit_links(body)[0]
    for part in path.split("/"):
        entries = parsed.get(oid)
        if entries is None:
            kind, body = read_object(git_dir, oid)
            if kind != "tree":
                return None
            entries = parsed[oid] = tree_entries(body)
        entry = entries.get(part)
        if entry is None:
            return None
        oid = entry[1]
    kind, body = read_object(git_dir, oid)
    return body if kind == "blob" else None


class ObjectWriter:
    """Writes loose objects without fsync: a `sync_filesystem` (a `RefTransaction`) makes them durable.

    An object found already there needs it too: its writer may not have synced it yet.
    """

    def __init__(self, git_dir: Path):
        self.git_dir = Path(git_dir)

    def write(self, kind: str, body: bytes) -> str:
        raw = f"{kind} {len(body)}\0".encode() + body
        oid = sha1(raw).hexdigest()
        folder = os.path.join(self.git_dir, "objects", oid[:2])
        final = os.path.join(folder, oid[2:])
        if os.path.exists(final):
            return oid
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f"tmp_obj_{os.getpid()}_{time.monotonic_ns()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            os.write(fd, zlib.compress(raw, 1))
        finally:
            os.close(fd)
        os.replace(tmp, final)  # same name, same bytes: replacing a concurrent copy is harmless
        return oid

    def blob(self, data: bytes) -> str:
        return self.write("blob", data)

    def tree(self, entries: list[tuple[str, str, str]]) -> str:
        """`entries`: (mode, name, oid), in any order (git's order is applied here)."""
        def order(entry):
            name = entry[1].encode("utf-8", "surrogateescape")
            return name + b"/" if entry[0] == TREE else name

        body = b"".join(f"{mode} ".encode() + name.encode("utf-8", "surrogateescape") + b"\0" + bytes.fromhex(oid)
                        for mode, name, oid in sorted(entries, key=order))
        return self.write("tree", body)

    def commit(self, tree: str, parents: list[str], message: str, time_ns: int) -> str:
        """A commit as pygit2 writes it with artrepo's identity at UTC (same bytes, same id)."""
        stamp = f"{IDENTITY} {time_ns // 1_000_000_000} +0000"
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents), f"author {stamp}", f"committer {stamp}"]
        return self.write("commit", ("\n".join(lines) + "\n\n" + message).encode())


# -- refs ------------------------------------------------------------------------
_PACKED: dict[str, tuple[tuple, dict[str, str]]] = {}


def _packed_refs(git_dir: Path) -> dict[str, str]:
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


def read_ref(git_dir: Path, name: str, *, derived: bool = False) -> str | None:
    """The oid a ref holds (loose file first, then packed-refs), None if absent; NotSimple if odd.

    A `derived` ref (written without fsync, rebuilt by the next writer) whose
    file a crash left empty or torn reads as absent.
    """
    try:
        data = read_file(os.path.join(git_dir, name), 128)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        oid = _packed_refs(git_dir).get(name)
        if oid is not None and not is_oid(oid):
            raise NotSimple(name) from None
        return oid
    text = data.decode("ascii", "replace").rstrip("\n")
    if not is_oid(text):
        if derived and not text.startswith("ref:"):
            return None
        raise NotSimple(name)  # symbolic, empty or damaged: pygit2 says what it is
    return text


def update_ref(git_dir: Path, name: str, decide: Callable[[str | None], str | None], message: str, *,
               durable: bool) -> str | None:
    """Like `Refs.update`: under the ref's locks call `decide(current)` and set the ref to its answer.

    `durable` fsyncs the ref and its folder before returning (a publishing
    ref); a derived ref (not `durable`) skips it and a torn value of one
    counts as absent. NotSimple when the current value is odd.
    """
    git_dir = Path(git_dir)
    with flock(ref_lock(git_dir, name)):
        current, new, lock_path = _write_lock_file(git_dir, name, decide, derived=not durable, sync=durable)
        if lock_path is None:
            return current
        try:
            _append_reflog(git_dir, name, current, new, message, durable)
            os.replace(lock_path, git_dir / name)
        except BaseException:
            lock_path.unlink(missing_ok=True)
            raise
        if durable:
            fsync_dir((git_dir / name).parent)
        return new


class RefTransaction:
    """Publishing refs made durable together, with one filesystem sync.

        with RefTransaction(git_dir) as refs:
            refs.set("refs/artrepo/runs/x", lambda cur: commit, "run p")
            refs.commit()

    `set` takes the ref's flock (held until the block ends) and writes git's
    lock file, without fsync. `commit` appends the reflog lines, runs one
    `sync_filesystem`, which also covers the loose objects written before,
    then renames every lock file into place and fsyncs their folders: the
    ordering of `update_ref(durable=True)` (objects, then the ref's value,
    then its name), with one sync for all and one fsync per folder where
    that takes three fsyncs per ref. Lock files not committed are removed.
    NotSimple when a ref's current value is odd.
    """

    def __init__(self, git_dir: Path):
        self.git_dir = Path(git_dir)
        self._flocks = contextlib.ExitStack()
        self._pending: list[tuple[Path, str, str | None, str, str]] = []  # (lock file, name, old, new, message)

    def set(self, name: str, decide: Callable[[str | None], str | None], message: str) -> str | None:
        self._flocks.enter_context(flock(ref_lock(self.git_dir, name)))
        current, new, lock_path = _write_lock_file(self.git_dir, name, decide, derived=False, sync=False)
        if lock_path is not None:
            self._pending.append((lock_path, name, current, new, message))
        return current if lock_path is None else new

    def commit(self) -> None:
        if not self._pending:
            return
        for _, name, old, new, message in self._pending:
            _append_reflog(self.git_dir, name, old, new, message, durable=False)
        sync_filesystem(self.git_dir)
        for lock_path, name, *_ in self._pending:
            os.replace(lock_path, self.git_dir / name)
        folders = {(self.git_dir / name).parent for _, name, *_ in self._pending}
        self._pending = []
        for folder in folders:
            fsync_dir(folder)

    def __enter__(self) -> "RefTransaction":
        return self

    def __exit__(self, *exc) -> None:
        for lock_path, *_ in self._pending:
            lock_path.unlink(missing_ok=True)
        self._pending = []
        self._flocks.close()


def _write_lock_file(git_dir: Path, name: str, decide, *, derived: bool, sync: bool):
    """Under the ref's flock: git's `<ref>.lock` holding `decide(current)`.

    Returns (current, new, lock file), the lock file None when the ref stays as it is.
    """
    lock_path = git_dir / (name + ".lock")
    if lock_path.exists():  # the caller holds the flock: its writer is gone
        lock_path.unlink()
    fd = _take_lock_file(lock_path, name)
    try:
        current = read_ref(git_dir, name, derived=derived)
        new = decide(current)
        if new is not None and new != current:
            os.write(fd, f"{new}\n".encode())
            if sync:
                os.fsync(fd)
    except BaseException:
        lock_path.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    if new is None or new == current:
        lock_path.unlink()
        return current, None, None
    return current, new, lock_path


def _take_lock_file(lock_path: Path, name: str) -> int:
    """git's `<ref>.lock`, created exclusively; a writer outside artrepo's flocks may hold it a moment."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(100):
        try:
            return os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            time.sleep(min(0.05, 0.001 * (attempt + 1)))
    raise RefLockedError(f"ref {name} stayed locked by another writer; try again")


def _append_reflog(git_dir: Path, name: str, old: str | None, new: str, message: str, durable: bool) -> None:
    offset = time.localtime().tm_gmtoff // 60
    tz = f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    line = f"{old or '0' * 40} {new} {IDENTITY} {int(time.time())} {tz}\t{' '.join(message.split())}\n"
    log = git_dir / "logs" / name
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def list_prefix(git_dir: Path, prefix: str) -> dict[str, str]:
    """Refs under `prefix/` one level deep, {last component: oid}, as `Refs.list_prefix` answers."""
    out = {}
    start = prefix + "/"
    for ref, oid in _packed_refs(git_dir).items():
        if ref.startswith(start) and "/" not in ref[len(start):]:
            out[ref[len(start):]] = oid
    try:
        entries = list(os.scandir(os.path.join(git_dir, prefix)))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for e in entries:
        if e.is_file() and not e.name.endswith(".lock"):
            text = read_file(e.path, 64).decode("ascii", "replace").strip()
            out[e.name] = text if text else "<empty ref>"  # damaged: reading it fails loudly later
    return out


def list_folders(git_dir: Path, prefix: str) -> set[str]:
    """Names of the sub-folders of `prefix/` (loose or packed), as `Refs.list_folders` answers."""
    start = prefix + "/"
    out = {ref[len(start):].split("/", 1)[0] for ref in _packed_refs(git_dir)
           if ref.startswith(start) and "/" in ref[len(start):]}
    try:
        out.update(e.name for e in os.scandir(os.path.join(git_dir, prefix)) if e.is_dir())
    except FileNotFoundError:
        pass
    return out
