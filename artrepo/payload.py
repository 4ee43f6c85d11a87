"""The files of one artifact version, as materializers see them.

`SaveFiles` turns what a materializer writes (streams from `open`, files it
leaves under its `uri`, registered paths) into stored files; `LoadFiles`
serves them back as verified streams or materializes them on disk, never
writing outside the target folder whatever the manifest says.
(see safepaths.py for which paths and links they may hold).
"""
from __future__ import annotations

import contextlib
import os
import stat
import zipfile
from pathlib import Path

from artrepo.errors import IntegrityError, MaterializerError, UserError
from artrepo.records.artifact import Manifest
from artrepo.storage.chunkstore import ChunkStore
from artrepo.storage.export import export_file, read_ahead, stored_raw, write_at
from artrepo.storedfile import StoredFile
from artrepo.storage.packwriter import WriteSession
from artrepo.safepaths import RESERVED, check_files, check_relpath

COPY_BLOCK = 8 * 1024 * 1024


class MissingFile(IntegrityError, KeyError):
    """A materializer asked for a file the version does not hold (its record names the wrong one?).

    A KeyError too, so materializers that probe for optional files keep working.
    """

    def __init__(self, relpath: str):
        super().__init__(f"the version holds no file {relpath!r} (does its record name the wrong materializer?)")

    def __str__(self) -> str:
        return self.args[0]


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
        """Files a materializer wrote with plain `open()` under its uri (a built-in's is made only if used)."""
        try:
            with os.scandir(self.uri) as entries:
                if next(entries, None) is None:
                    return
        except FileNotFoundError:
            return
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

    def read_only_copy(self, prefix: str = "") -> Path:
        """`cache_dir()`, holding a read-only materialized copy of the files (made once, by one process); in
        a read-only repository, the same folder in this user's cache (docs/reliability.md, issue 14)."""
        import errno

        try:
            return self._read_only_copy(self.cache_dir(), prefix)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
            return self._read_only_copy(Path(base) / "artrepo" / "paths" / self.cache_dir().name, prefix)

    def _read_only_copy(self, cache: Path, prefix: str) -> Path:
        import tempfile

        if not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=".tmp-"))
            try:
                self.materialize(tmp, prefix)
                make_read_only(tmp)
                try:
                    os.rename(tmp, cache)
                except OSError:  # another process materialized it first
                    remove_read_only(tmp)
            except BaseException:
                remove_read_only(tmp)
                raise
        return cache

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

        A file whose chunks zstd could not shrink is stored as is (deflate
        would take ~25 s/GiB to gain nothing); into a path, its entry's data
        is written by `export_file`, which takes the CRC-32 as it verifies
        (storage/export.py), and zipfile writes the rest. If a file cannot be
        read, the zip is cut short without its central directory: a failed zip
        is never a valid-looking archive missing data.
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
            entry_info = zipfile.ZipInfo(f.path)
            entry_info.compress_type = zipfile.ZIP_STORED if stored_raw(self.store, f) else zipfile.ZIP_DEFLATED
            if sink.fd is not None and entry_info.compress_type == zipfile.ZIP_STORED:
                self._zip_stored(zf, entry_info, f, sink)
                return
            with zf.open(entry_info, "w", force_zip64=True) as entry, self.store.open(f) as src:
                with contextlib.closing(read_ahead(src, f.size, sink.position())) as blocks:
                    for block in blocks:
                        entry.write(block)
        except BaseException:
            sink.cut()
            raise

    def _zip_stored(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, f: StoredFile, sink: "_ZipSink") -> None:
        """Add `f` as a stored entry, as zipfile's `open(info, "w", force_zip64=True)` would: its data written
        once by `export_file` behind a header written last, with the CRC-32 it returns."""
        info.external_attr = 0o600 << 16  # zipfile's default for an entry written through `open`
        info.file_size, info.compress_size, info.CRC = f.size, f.size, 0  # the CRC comes with the data
        info.header_offset = zf.start_dir
        data_at = info.header_offset + len(info.FileHeader(zip64=True))  # its length depends on no CRC or size
        sink.flush()
        info.CRC = export_file(self.store, f, sink.fd, at=data_at, crc=True)
        write_at(sink.fd, info.FileHeader(zip64=True), info.header_offset)
        zf.filelist.append(info)  # as ZipFile.mkdir adds an entry it wrote itself
        zf.NameToInfo[info.filename] = info
        zf.start_dir = data_at + f.size
        sink.seek(zf.start_dir)


class _ZipSink:
    """Where a zip goes: a path, opened here (seekable, `fd` set), or a stream, e.g. a socket, which has no
    `tell` (zipfile then never seeks back in it, and writes data descriptors instead); once cut, nothing more
    is written."""

    def __init__(self, out):
        self._own = isinstance(out, (str, os.PathLike))
        self._raw = open(out, "xb") if self._own else out
        self.fd = self._raw.fileno() if self._own else None
        self._cut = False
        self.written = 0  # through `write`

    def write(self, data) -> int:
        if not self._cut:
            self._raw.write(data)
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        if not self._own:
            raise OSError("a stream has no position")  # zipfile: not seekable
        return self._raw.tell()

    def position(self) -> int:
        """Where the next byte written lands."""
        return self._raw.tell() if self._own else self.written

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._raw.seek(pos, whence) if not self._cut else pos

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


def remove_read_only(path: Path) -> None:
    """Remove a tree `make_read_only` made (its folders are made writable first)."""
    import shutil

    if path.exists():
        for folder, _dirs, _files in os.walk(path):
            os.chmod(folder, 0o755)
        shutil.rmtree(path, ignore_errors=True)
