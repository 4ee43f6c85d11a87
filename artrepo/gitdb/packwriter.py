"""Git packs written in pure Python, byte-compatible with git (read: gitpack.py).

    builder = PackBuilder(pack_dir)    # .add(raw id, type, body) / .add_raw(raw id, entry) ...
    builder.finish()                   # a new pack + idx in place, durably; no deltas
    staged = builder.stage(durable=False); ...; staged.land()   # something in between (a run: batch.py)

Objects are laid out without deltas (a later `git gc` may delta them);
gitdb/repack.py copies the entries of several packs into one (raw bytes for
whole objects, deltas resolved), the way `git repack --geometric` rolls
small packs into a bigger one. A new pack is written to temporary files,
made durable, and renamed `.pack` first, `.idx` last (readers find packs by
their `.idx`); packs it replaces are removed afterwards, `.idx` first.
"""
from __future__ import annotations

import os
import struct
import time
import zlib
from itertools import accumulate
from pathlib import Path

from artrepo.atomic import fsync_dir, write_all
from artrepo.gitdb.gitpack import CODES, IDX_MAGIC, deflate

try:  # the interpreter's own SHA code: importing hashlib (OpenSSL) costs milliseconds
    from _sha1 import sha1
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import sha1


def entry_header(kind: int, size: int) -> bytes:
    out = bytearray()
    c = (kind << 4) | (size & 15)
    size >>= 4
    while size:
        out.append(c | 0x80)
        c = size & 0x7F
        size >>= 7
    out.append(c)
    return bytes(out)


class PackBuilder:
    """A new pack written as objects come (whole objects deflated here, or raw entries copied from a pack).

    Entries go to a temporary file in `pack_dir`; `finish` writes the header
    and checksum, the `.idx`, and renames both into place (`stage`, then
    `StagedPack.land`, when something must happen in between: a run's pack,
    gitdb/batch.py); `abort` removes the temporary file (one left by a crash
    is a `tmp_*` file `git gc` removes).
    """

    def __init__(self, pack_dir: Path):
        self.pack_dir = Path(pack_dir)
        self.pack_dir.mkdir(parents=True, exist_ok=True)
        self.rows: list[tuple[bytes, int, int]] = []  # (raw id, crc32, offset)
        self.size = 12
        self._seen: set[bytes] = set()
        self._tmp = _temp(self.pack_dir, "pack")
        self._fd = os.open(self._tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
        write_all(self._fd, bytes(12))

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, raw: bytes) -> bool:
        return raw in self._seen

    def add(self, raw: bytes, kind: str, body: bytes) -> None:
        if raw not in self._seen:
            self._append(raw, entry_header(CODES[kind], len(body)) + deflate(body))

    def add_raw(self, raw: bytes, entry: bytes) -> None:
        """A whole-object entry exactly as another pack stores it (header and deflated data)."""
        if raw not in self._seen:
            self._append(raw, bytes(entry))

    def _append(self, raw: bytes, entry: bytes) -> None:
        write_all(self._fd, entry)
        self._seen.add(raw)
        self.rows.append((raw, zlib.crc32(entry), self.size))
        self.size += len(entry)

    def finish(self) -> Path:
        """Write the pack's header, checksum and `.idx`, durably, and put both in place; the `.idx` path."""
        return self.stage().land()

    def stage(self, *, durable: bool = True) -> "StagedPack":
        """Write the pack's header and checksum and its `.idx` under a temporary name (fsynced if
        `durable`; else whoever lands it syncs first): no reader finds them before `StagedPack.land`."""
        fd = self._fd
        os.pwrite(fd, b"PACK" + struct.pack(">II", 2, len(self.rows)), 0)
        digest, pos = sha1(), 0
        while block := os.pread(fd, 1 << 20, pos):
            digest.update(block)
            pos += len(block)
        checksum = digest.digest()
        self._fd = None
        _write_closing(fd, checksum, pos, durable)
        staged = StagedPack(self.pack_dir, self._tmp, _temp(self.pack_dir, "idx"), checksum)
        try:
            _write_closing(os.open(staged.tmp_idx, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444),
                           index_bytes(self.rows, checksum), 0, durable)
        except BaseException:
            staged.abort()
            raise
        return staged

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._tmp.unlink(missing_ok=True)


def index_bytes(rows: list[tuple[bytes, int, int]], checksum: bytes) -> bytes:
    """A version 2 `.idx` of the entries (raw id, crc32, offset) of the pack whose checksum is `checksum`."""
    rows = sorted(rows)
    counts = [0] * 256
    for raw, _crc, _off in rows:
        counts[raw[0]] += 1
    fanout = list(accumulate(counts))
    small, large = [], []
    for _raw, _crc, off in rows:
        if off < 0x80000000:
            small.append(off)
        else:
            small.append(0x80000000 | len(large))
            large.append(off)
    idx = b"".join([IDX_MAGIC, struct.pack(">I", 2), struct.pack(">256I", *fanout),
                    b"".join(r[0] for r in rows), struct.pack(f">{len(rows)}I", *(r[1] for r in rows)),
                    struct.pack(f">{len(rows)}I", *small), struct.pack(f">{len(large)}Q", *large), checksum])
    return idx + sha1(idx).digest()


class StagedPack:
    """A pack and its `.idx` under temporary names (`tmp_pack_*`, `tmp_idx_*`: what a crash leaves is a
    temporary file, which `git gc` removes once older than its prune time), not yet found by readers."""

    def __init__(self, pack_dir: Path, tmp_pack: Path, tmp_idx: Path, checksum: bytes):
        self.pack_dir, self.tmp_pack, self.tmp_idx = Path(pack_dir), tmp_pack, tmp_idx
        self.idx_path = self.pack_dir / f"pack-{checksum.hex()}.idx"

    def land(self, *, synced: bool = True) -> Path:
        """Rename the pack into place, then its `.idx` (readers find packs by it), and fsync the folder;
        returns the `.idx` path. `synced`: the files' data is durable already (fsynced, or a
        `sync_filesystem` since they were written); else each is fsynced first."""
        if not synced:
            for path in (self.tmp_pack, self.tmp_idx):
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        os.replace(self.tmp_pack, self.idx_path.with_suffix(".pack"))
        os.replace(self.tmp_idx, self.idx_path)
        fsync_dir(self.pack_dir)
        return self.idx_path

    def abort(self) -> None:
        for path in (self.tmp_pack, self.tmp_idx):
            Path(path).unlink(missing_ok=True)


def _temp(pack_dir: Path, what: str) -> Path:
    return pack_dir / f"tmp_{what}_{os.getpid()}_{time.monotonic_ns()}"


def _write_closing(fd: int, data: bytes, offset: int, durable: bool) -> None:
    """Write `data` at `offset`, fsync if `durable`, and close the file."""
    try:
        os.lseek(fd, offset, os.SEEK_SET)
        write_all(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def remove_pack(idx_path: Path) -> None:
    """Remove a pack replaced by another (its `.idx` first: readers stop finding it before its data goes)."""
    for suffix in (".idx", ".rev", ".bitmap", ".pack"):
        Path(idx_path).with_suffix(suffix).unlink(missing_ok=True)
