"""The files of one artifact version, as materializers see them.

`SaveFiles` turns what a materializer writes (streams from `open`, files it
leaves under its `uri`, registered paths) into stored files; `LoadFiles`
serves them back as verified streams or materializes them on disk, never
writing outside the target folder whatever the manifest says.

Symlinks are where a manifest could reach outside its folder, so they are
resolved the way the kernel resolves them: component by component, through
the links the same files hold (`check_files`). A set of files is refused
when any link, so resolved, leaves the root, loops, or when a path sits
below a file or link; this runs when a folder is registered, before anything
is materialized, and `check_manifest` offers it to fsck and pull.
"""
from __future__ import annotations

import contextlib
import os
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path

from artrepo.errors import IntegrityError, MaterializerError, UserError
from artrepo.records.artifact import Manifest
from artrepo.storage.chunkstore import ChunkStore, StoredFile
from artrepo.storage.export import export_file
from artrepo.storage.packwriter import WriteSession

COPY_BLOCK = 8 * 1024 * 1024
RESERVED = {".git", ".artrepo"}
MAX_LINK_DEPTH = 40  # Linux's MAXSYMLINKS: the kernel follows no longer chain
MAX_LINK_TARGET = 4095  # PATH_MAX - 1: the kernel stores no longer link


def check_relpath(path: str) -> str:
    """Refuse a stored path that could escape its folder (from a hostile remote)."""
    parts = path.split("/")
    if (not path or path.startswith("/") or "\\" in path or "\0" in path
            or any(p in ("", ".", "..") or p.lower() in RESERVED for p in parts)):
        raise IntegrityError(f"refusing unsafe path {path!r} in a manifest")
    return path


class MissingFile(IntegrityError, KeyError):
    """A materializer asked for a file the version does not hold (its record names the wrong one?).

    A KeyError too, so materializers that probe for optional files keep working.
    """

    def __init__(self, relpath: str):
        super().__init__(f"the version holds no file {relpath!r} (does its record name the wrong materializer?)")

    def __str__(self) -> str:
        return self.args[0]


def check_files(files: Iterable[tuple[str, str | None]]) -> None:
    """Refuse (path, symlink target or None) pairs that cannot be written safely under one root.

    Every path must be safe (`check_relpath`) and listed once, with no path
    below a file or link; every link target, followed the way the kernel
    follows it through the links of the same set, must stay inside the root.
    Linear in the size of the paths and targets, whatever they hold.
    """
    resolver = _LinkResolver()
    for path, target in files:
        resolver.add(check_relpath(path), target)
    for link in resolver.links:
        resolver.resolve(link)


def check_manifest(manifest: Manifest) -> None:
    """`check_files` for a version's data files and, apart, its visualizations (fsck, pull)."""
    check_files((f.path, f.symlink) for f in manifest.files)
    check_files((f.path, f.symlink) for _, _, f in manifest.visualizations)


class _Link:
    __slots__ = ("path", "target")

    def __init__(self, path: str, target: str):
        self.path, self.target = path, target


_FILE = object()


class _LinkResolver:
    """The files as a tree (folders are dicts), and where each link leads as the kernel walks it.

    A position is a linked stack `(node, parent position)`, the root's parent
    being None; a node that does not exist is None. Each link is resolved once
    and its position reused, so a walk costs one step per target component.
    """

    def __init__(self):
        self.root: dict = {}
        self.links: list[_Link] = []
        self.resolved: dict[str, tuple] = {}
        self.active: list[str] = []

    def add(self, path: str, target: str | None) -> None:
        node, parts = self.root, path.split("/")
        for i, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                above = "/".join(parts[:i + 1])
                kind = "link" if isinstance(node, _Link) else "file"
                raise IntegrityError(f"refusing {path!r} in a manifest: {above!r} is a {kind}, not a folder")
        if parts[-1] in node:
            raise IntegrityError(f"refusing a manifest that lists {path!r} twice (or as a file and a folder)")
        node[parts[-1]] = _FILE if target is None else _Link(path, target)
        if target is not None:
            self.links.append(node[parts[-1]])

    def resolve(self, link: _Link) -> tuple:
        """The position, under the root, of what `link` points to."""
        if link.path in self.resolved:
            return self.resolved[link.path]
        path, target = link.path, link.target
        if path in self.active or len(self.active) >= MAX_LINK_DEPTH:
            raise _unsafe(path, target, f"it loops or chains more than {MAX_LINK_DEPTH} links")
        if target.startswith("/"):
            raise _unsafe(path, target, "it points outside the artifact")
        if not target or "\0" in target or len(os.fsencode(target)) > MAX_LINK_TARGET:
            raise _unsafe(path, target, "it is not a valid link target")
        self.active.append(path)
        try:
            where = (self.root, None)
            for part in path.split("/")[:-1]:
                where = (where[0][part], where)
            for part in target.split("/"):
                if part in ("", "."):
                    continue
                if part == "..":
                    if where[1] is None:
                        raise _unsafe(path, target, "it points outside the artifact")
                    where = where[1]
                    continue
                node = where[0].get(part) if isinstance(where[0], dict) else None
                # a link met on the way is followed, as the kernel does
                where = self.resolve(node) if isinstance(node, _Link) else (node, where)
        finally:
            self.active.pop()
        self.resolved[path] = where
        return where


def _unsafe(path: str, target: str, why: str) -> IntegrityError:
    return IntegrityError(f"refusing symlink {path!r} -> {target!r}: {why}")


class SaveFiles:
    def __init__(self, session: WriteSession, uri: Path):
        self.session = session
        self.uri = uri
        self.files: dict[str, StoredFile] = {}
        self.used: set[str] = set()

    def note_materializer(self, materializer_id: str) -> None:
        self.used.add(materializer_id)

    def open(self, relpath: str, mode: str = "wb"):
        if "w" not in mode or "b" not in mode:
            raise MaterializerError(f"while saving, files open as 'wb' (got {mode!r})")
        check_relpath(relpath)
        writer = self.session.writer(relpath)
        original_close = writer.close

        def close():
            original_close()
            self.files[relpath] = writer.result

        writer.close = close
        return writer

    def add_file(self, relpath: str, source: Path) -> None:
        """Stream a regular file into the store (its mode bit for exec is kept)."""
        try:
            check_relpath(_utf8_name(relpath, source))
        except IntegrityError as exc:
            raise UserError(f"cannot store {short_path(source)}: {exc}") from None
        with _reading(source):
            st = os.stat(source, follow_symlinks=False)
            f = open(source, "rb")
        writer = self.session.writer(relpath, executable=bool(st.st_mode & 0o111))
        buf = bytearray(COPY_BLOCK)
        view = memoryview(buf)
        with f:
            while True:
                with _reading(source):
                    n = f.readinto(buf)
                if not n:
                    break
                writer.write(view[:n])
        writer.close()
        with _reading(source):
            after = os.stat(source, follow_symlinks=False)
        if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns) or after.st_size != writer.result.size:
            raise UserError(f"{source} changed while it was being saved; try again")
        self.files[relpath] = writer.result

    def add_symlink(self, relpath: str, target: str) -> None:
        check_relpath(relpath)
        self.files[relpath] = StoredFile(relpath, 0, (), False, target)

    def add_tree(self, root: Path, prefix: str) -> None:
        """Store a folder: regular files and symlinks (as links, never followed).

        The whole folder is walked and checked before its first byte is
        stored: a name that is not UTF-8, an unreadable file or folder, a
        special file or a link that leaves the folder (resolved as the
        kernel would, `check_files`) fails in one line with nothing written.
        """
        files, links, special = _walk(root)
        if special:
            raise UserError(f"cannot store special files (FIFOs, sockets, devices): {', '.join(special[:5])}")
        try:
            check_files([(rel, None) for rel in files] + list(links.items()))
        except IntegrityError as exc:
            raise UserError(f"cannot store {short_path(root)}: {exc} (links are stored as links, never "
                            "followed: their targets are never read)") from None
        for rel, source in files.items():
            self.add_file(prefix + rel, source)
        for rel, target in links.items():
            self.add_symlink(prefix + rel, target)

    def ingest_leftovers(self) -> None:
        """Files a materializer wrote with plain `open()` under its uri."""
        if any(self.uri.iterdir()):
            self.add_tree(self.uri, "")

    def manifest(self, visualizations: dict) -> Manifest:
        vis = []
        for key, vtype in (visualizations or {}).items():
            rel = os.path.relpath(key, self.uri) if os.path.isabs(key) else key
            stored = self.files.pop(rel, None)
            if stored is None:
                raise MaterializerError(f"visualization {rel!r} was returned but not written")
            vis.append((rel, str(getattr(vtype, "value", vtype)), stored))
        return Manifest(tuple(sorted(self.files.values(), key=lambda f: f.path)), tuple(vis))


class LoadFiles:
    def __init__(self, store: ChunkStore, manifest: Manifest, cache_root: Path | None = None):
        self.store = store
        self.manifest = manifest
        self.cache_root = cache_root
        self._by_path = {f.path: f for f in manifest.files}

    def cache_dir(self) -> Path:
        """Where a read-only materialized copy of these files lives."""
        return self.cache_root / self.manifest.content_hash.hex()

    def open(self, relpath: str, mode: str = "rb"):
        if mode not in ("rb", "r+b") and "w" in mode:
            raise MaterializerError("stored artifacts are read-only")
        stored = self._by_path.get(relpath)
        if stored is None:
            raise MissingFile(relpath)
        return self.store.open(stored)

    def exists(self, relpath: str) -> bool:
        return relpath in self._by_path

    def materialize(self, dest: Path, prefix: str = "", files=None) -> None:
        """Write the stored files under `dest`, safely (see module docstring)."""
        chosen = [f for f in (self.manifest.files if files is None else files) if f.path.startswith(prefix)]
        # Checked before the first byte is written; links are made last, so nothing is written through one.
        check_files((f.path[len(prefix):], f.symlink) for f in chosen)
        for f in chosen:
            if f.symlink is not None:
                continue
            target = _safe_parent(dest, f.path[len(prefix):])
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if f.executable else 0o644)
            try:
                export_file(self.store, f, fd)  # verified, copied by the kernel where chunks are stored raw
            finally:
                os.close(fd)
        for f in chosen:
            if f.symlink is not None:
                os.symlink(f.symlink, _safe_parent(dest, f.path[len(prefix):]))

    def write_zip(self, out) -> None:
        """The data files (links left out) as a zip, into the path or writable stream `out`.

        If a file cannot be read, the zip is cut short without its central
        directory: a failed zip is never a valid-looking archive missing data.
        """
        check_files((f.path, f.symlink) for f in self.manifest.files)
        sink = _ZipSink(out)
        try:
            with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                for f in self.manifest.files:
                    if f.symlink is None:
                        self._zip_one(zf, f, sink)
        finally:
            sink.close()

    def _zip_one(self, zf: zipfile.ZipFile, f: StoredFile, sink: "_ZipSink") -> None:
        try:
            with zf.open(f.path, "w", force_zip64=True) as entry, self.store.open(f) as src:
                buf = bytearray(min(COPY_BLOCK, max(f.size, 1)))
                while n := src.readinto(buf):
                    entry.write(memoryview(buf)[:n])
        except BaseException:
            sink.cut()
            raise


class _ZipSink:
    """Where a zip goes (a path, opened here, or a stream); once cut, nothing more is written."""

    def __init__(self, out):
        self._own = isinstance(out, (str, os.PathLike))
        self._raw = open(out, "xb") if self._own else out
        self._cut = False

    def write(self, data) -> int:
        if not self._cut:
            self._raw.write(data)
        return len(data)

    def flush(self) -> None:
        if not self._cut:
            self._raw.flush()

    def cut(self) -> None:
        self._cut = True

    def close(self) -> None:
        if self._own:
            self._raw.close()


def _walk(root: Path) -> tuple[dict[str, Path], dict[str, str], list[str]]:
    """The regular files, links and special files under `root` (relative paths), without following links."""
    files: dict[str, Path] = {}
    links: dict[str, str] = {}
    special: list[str] = []
    stack = [(root, "")]
    while stack:
        folder, rel = stack.pop()
        with _reading(folder):
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        for entry in entries:
            if entry.name in RESERVED:
                continue
            path = _utf8_name(f"{rel}{entry.name}", entry.path)
            with _reading(entry.path):
                if entry.is_symlink():
                    links[path] = _utf8_name(os.readlink(entry.path), entry.path, "link target")
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), path + "/"))
                elif entry.is_file(follow_symlinks=False):
                    os.close(os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK))  # readable?
                    files[path] = Path(entry.path)
                else:
                    special.append(entry.path)
    return files, links, special


def _utf8_name(name: str, where, what: str = "file name") -> str:
    """`name`, refused in one line when the file system gave bytes that are not UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"{what} {os.fsencode(where)!r} is not valid UTF-8; rename it to store it") from None
    return name


@contextlib.contextmanager
def _reading(path):
    """An OSError while reading the user's `path` (permission, name too long, I/O) as one line."""
    try:
        yield
    except OSError as exc:
        raise UserError(f"cannot read {short_path(path)}: {exc.strerror or exc}") from None


def short_path(path) -> str:
    """A path short enough for a one-line message (a path may be longer than PATH_MAX)."""
    text = os.fsdecode(path)
    return text if len(text) <= 200 else f"{text[:80]}...{text[-80:]} ({len(text)} characters)"


def _safe_parent(dest: Path, rel: str) -> str:
    """`dest/rel` after creating its parents, refusing any symlinked parent."""
    folder = str(dest)
    for part in rel.split("/")[:-1]:
        folder = os.path.join(folder, part)
        try:
            os.mkdir(folder, 0o755)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                raise IntegrityError(f"refusing to write through non-folder {folder!r}") from None
    return os.path.join(folder, rel.split("/")[-1])


def make_read_only(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(folder, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode & ~0o222)
        os.chmod(folder, 0o555)
