"""The files of one artifact version, as materializers see them.

`SaveFiles` turns what a materializer writes (streams from `open`, files it
leaves under its `uri`, registered paths) into stored files; `LoadFiles`
serves them back as verified streams or materializes them on disk, never
writing outside the target folder whatever the manifest says.
"""
from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from artrepo.errors import IntegrityError, MaterializerError, UserError
from artrepo.records.artifact import Manifest
from artrepo.storage.chunkstore import ChunkStore, StoredFile
from artrepo.storage.packwriter import WriteSession

COPY_BLOCK = 8 * 1024 * 1024
RESERVED = {".git", ".artrepo"}


def check_relpath(path: str) -> str:
    """Refuse a stored path that could escape its folder (from a hostile remote)."""
    parts = path.split("/")
    if (not path or path.startswith("/") or "\\" in path or "\0" in path
            or any(p in ("", ".", "..") or p.lower() in RESERVED for p in parts)):
        raise IntegrityError(f"refusing unsafe path {path!r} in a manifest")
    return path


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
        check_relpath(relpath)
        st = os.stat(source, follow_symlinks=False)
        writer = self.session.writer(relpath, executable=bool(st.st_mode & 0o111))
        buf = bytearray(COPY_BLOCK)
        view = memoryview(buf)
        with open(source, "rb") as f:
            while n := f.readinto(buf):
                writer.write(view[:n])
        writer.close()
        after = os.stat(source, follow_symlinks=False)
        if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns) or after.st_size != writer.result.size:
            raise UserError(f"{source} changed while it was being saved; try again")
        self.files[relpath] = writer.result

    def add_symlink(self, relpath: str, target: str) -> None:
        check_relpath(relpath)
        self.files[relpath] = StoredFile(relpath, 0, (), False, target)

    def add_tree(self, root: Path, prefix: str) -> None:
        """Store a folder: regular files and symlinks (as links, never followed)."""
        special, outside = [], []
        stack = [(root, prefix)]
        while stack:
            folder, rel = stack.pop()
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                path = f"{rel}{entry.name}"
                if entry.name in RESERVED:
                    continue
                if entry.is_symlink():
                    target = os.readlink(entry.path)
                    if points_outside(path[len(prefix):], target):
                        outside.append(f"{entry.path} -> {target}")
                    else:
                        self.add_symlink(path, target)
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), path + "/"))
                elif entry.is_file(follow_symlinks=False):
                    self.add_file(path, Path(entry.path))
                else:
                    special.append(entry.path)
        if special:
            raise UserError(f"cannot store special files (FIFOs, sockets, devices): {', '.join(special[:5])}")
        if outside:
            raise UserError(f"refusing symlinks that point outside {root} (their targets are never read): "
                            f"{', '.join(outside[:5])}")

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

    def read_only_copy(self, prefix: str = "") -> Path:
        """`cache_dir()`, holding a read-only materialized copy of the files (made once, by one process)."""
        import tempfile

        cache = self.cache_dir()
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
            raise KeyError(relpath)
        return self.store.open(stored)

    def exists(self, relpath: str) -> bool:
        return relpath in self._by_path

    def materialize(self, dest: Path, prefix: str = "", files=None) -> None:
        """Write the stored files under `dest`, safely (see module docstring)."""
        chosen = [f for f in (files or self.manifest.files) if f.path.startswith(prefix)]
        links = []
        for f in chosen:
            rel = check_relpath(f.path)[len(prefix):]
            if f.symlink is not None:
                links.append((rel, f.symlink))
                continue
            target = _safe_parent(dest, rel)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if f.executable else 0o644)
            with os.fdopen(fd, "wb") as out, self.store.open(f) as src:
                buf = bytearray(min(COPY_BLOCK, max(f.size, 1)))
                while n := src.readinto(buf):
                    out.write(memoryview(buf)[:n])
        # Links last, so nothing is ever written through one.
        for rel, link in links:
            if points_outside(rel, link):
                raise IntegrityError(f"refusing symlink {rel!r} -> {link!r}: it points outside the artifact")
            os.symlink(link, _safe_parent(dest, rel))

    def write_zip(self, path: Path) -> None:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for f in self.manifest.files:
                if f.symlink is not None:
                    continue
                with zf.open(check_relpath(f.path), "w", force_zip64=True) as out, self.store.open(f) as src:
                    buf = bytearray(COPY_BLOCK)
                    while n := src.readinto(buf):
                        out.write(memoryview(buf)[:n])


def points_outside(rel: str, link: str) -> bool:
    """Whether a symlink at `rel` with target text `link` leaves the artifact's folder."""
    inside = os.path.normpath(os.path.join(os.path.dirname(rel), link))
    return os.path.isabs(link) or inside == ".." or inside.startswith("../")


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
