"""Exporting stored files (storage/export.py): byte for byte, verified before a byte lands, runs of chunks at a time.

A registered file is exported through `artrepo export NAME:V DEST`, loaded as
a read-only copy (`load_artifact`), and zipped by `download_files`. Its bytes
are stored as chunks, some raw (read a run of them at a time, hashed and
written), some zstd (decoded and written); the tests check which kind each
file holds.
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest

from artrepo import Client, load_artifact, register_artifact
from artrepo.errors import IntegrityError
from artrepo.storage import export
from artrepo.storage.packfile import CODEC_RAW, CODEC_ZSTD
from artrepo_testing import run_cli


def mixed_bytes(seed: int) -> bytes:
    """~2.7 MB: random bytes (stored raw), text rows (stored compressed), random again."""
    rnd = random.Random(seed)
    rows = b"".join(b"row %08d, value %d\n" % (i, (i * seed) % 7) for i in range(60_000))
    return rnd.randbytes(1 << 20) + rows + rnd.randbytes(300_000)


def edited(data: bytes) -> bytes:
    """The same file with a few bytes changed in the middle and a tail added (most chunks shared)."""
    mid = len(data) // 2
    return data[:mid] + b"EDITED" * 20 + data[mid + 120:] + b"appended tail\n" * 50


def chunks_of(av, path: str | None = None) -> list[tuple[bytes, int, int]]:
    """(chunk id, codec, stored length) of the version's file `path` (or its one file), in file order."""
    from artrepo.client import active_repository

    store = active_repository().chunks
    (stored,) = [f for f in av.manifest().files if path in (None, f.path)]
    return [(cid, store.locate(cid)[1].codec, store.locate(cid)[1].length) for cid, _n in stored.chunks]


def exported(dest: Path) -> bytes:
    (only,) = [p for p in dest.rglob("*") if p.is_file()]
    return only.read_bytes()


def forget_open_repositories() -> None:
    """The next in-process read opens the repository afresh (after its files were changed underneath)."""
    from artrepo import repository

    for repo in repository._OPEN.values():
        repo.close()
    repository._OPEN.clear()


@pytest.fixture
def history(project, tmp_path):
    """model:1 (raw and compressed chunks), model:2 (an edit of it), both files as they were."""
    first = mixed_bytes(1)
    second = edited(first)
    src = tmp_path / "model.bin"
    src.write_bytes(first)
    v1 = register_artifact(src, "model")
    src.write_bytes(second)
    v2 = register_artifact(src, "model")
    return {"v1": v1, "v2": v2, "first": first, "second": second}


def test_an_old_version_exports_byte_for_byte_after_an_edit_shares_its_chunks(history, tmp_path):
    old, new = chunks_of(history["v1"]), chunks_of(history["v2"])
    assert {codec for _c, codec, _n in old} == {CODEC_RAW, CODEC_ZSTD} and len(old) > 8
    shared = {c for c, _k, _n in old} & {c for c, _k, _n in new}
    assert len(shared) >= len(old) - 3 and len(new) > len(shared)  # deduplicated, and the edit stored anew
    for ref, want in (("model:1", history["first"]), ("model:2", history["second"])):
        proc = run_cli("export", ref, str(tmp_path / ref))
        assert proc.returncode == 0, proc.stderr
        assert exported(tmp_path / ref) == want, ref


def test_an_old_version_loads_and_zips_byte_for_byte(history, tmp_path):
    assert load_artifact("model:1").read_bytes() == history["first"]
    assert load_artifact("model:2").read_bytes() == history["second"]
    Client().get_artifact_version("model:1").download_files(tmp_path / "old.zip")
    with zipfile.ZipFile(tmp_path / "old.zip") as zf:
        (member,) = zf.namelist()
        assert zf.read(member) == history["first"]


def test_a_zip_stores_an_incompressible_file_as_is_and_deflates_the_others(project, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    noise = random.Random(3).randbytes(600_000)
    text = b"".join(b"row %08d\n" % i for i in range(50_000))
    (folder / "weights.bin").write_bytes(noise)
    (folder / "log.txt").write_bytes(text)
    register_artifact(folder, "model")
    Client().get_artifact_version("model").download_files(tmp_path / "model.zip")
    with zipfile.ZipFile(tmp_path / "model.zip") as zf:
        assert zf.testzip() is None  # every CRC checks
        entries = {Path(i.filename).name: i for i in zf.infolist()}
        assert entries["weights.bin"].compress_type == zipfile.ZIP_STORED
        assert entries["log.txt"].compress_type == zipfile.ZIP_DEFLATED
        assert entries["log.txt"].compress_size < len(text) // 4
        assert zf.read(entries["weights.bin"]) == noise and zf.read(entries["log.txt"]) == text


def test_an_empty_file_exports_and_loads_empty(project, tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    folder = tmp_path / "tree"
    folder.mkdir()
    (folder / "nothing.txt").write_bytes(b"")
    (folder / "something.txt").write_bytes(b"x")
    register_artifact(tmp_path / "empty", "empty")
    register_artifact(folder, "tree")
    assert run_cli("export", "empty:1", str(tmp_path / "out")).returncode == 0
    assert exported(tmp_path / "out") == b""
    assert load_artifact("empty").read_bytes() == b""
    assert run_cli("export", "tree:1", str(tmp_path / "tree-out")).returncode == 0
    (empty,) = (tmp_path / "tree-out").rglob("nothing.txt")
    assert empty.read_bytes() == b"" and next((tmp_path / "tree-out").rglob("something.txt")).read_bytes() == b"x"


class CountingReads:
    """os.preadv, counted: calls, bytes it read, and the threads that called it."""

    def __init__(self):
        self.real = os.preadv
        self.calls, self.read, self.threads = 0, 0, set()

    def __call__(self, fd, buffers, offset, *flags):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        n = self.real(fd, buffers, offset, *flags)
        self.read += n
        return n


def export_in_process(ref: str, dest: Path) -> bytes:
    forget_open_repositories()  # each export opens its packs anew
    Client().get_artifact_version(ref).export(dest)
    return exported(dest)


def test_raw_chunks_are_read_whole_runs_at_a_time_and_compressed_ones_decoded(history, tmp_path, monkeypatch):
    reads = CountingReads()
    monkeypatch.setattr(os, "preadv", reads)
    assert export_in_process("model:1", tmp_path / "out") == history["first"]
    raw = [n for _c, codec, n in chunks_of(history["v1"]) if codec == CODEC_RAW]
    assert reads.read == sum(raw) > len(history["first"]) // 3  # compressed chunks are decoded instead
    assert reads.calls < len(raw) // 2  # chunks lying back to back in a pack come in one read


def test_a_large_file_is_shared_between_two_threads(history, tmp_path, monkeypatch):
    real, writers = os.pwrite, set()

    def pwrite(fd, data, offset):  # a slow disk: while one thread writes a batch, the other takes the next
        writers.add(threading.current_thread().name)  # (a loaded machine could let one thread take them all)
        time.sleep(0.02)
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    monkeypatch.setattr(export, "PARALLEL_FROM", 1 << 20)  # as an 8 MiB file would be
    assert export_in_process("model:2", tmp_path / "out") == history["second"]
    assert any(name.startswith("artrepo-export") for name in writers) and len(writers) == 2


def test_short_writes_are_continued(history, tmp_path, monkeypatch):
    real, calls = os.pwrite, []

    def pwrite(fd, data, offset):
        calls.append(offset)
        return real(fd, memoryview(data)[:4096], offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    assert export_in_process("model:1", tmp_path / "out") == history["first"]
    assert len(calls) > len(history["first"]) // 4096


def test_a_truncated_pack_fails_the_export_with_nothing_left_behind(history, tmp_path):
    from artrepo.client import active_repository

    store = active_repository().chunks
    cid = [c for c, k, _n in chunks_of(history["v1"]) if k == CODEC_RAW][-1]
    pack = store.pack_path(store.locate(cid)[0])
    pack.chmod(0o644)
    os.truncate(pack, store.locate(cid)[1].offset + 10)
    proc = run_cli("export", "model:1", str(tmp_path / "out"))
    assert proc.returncode == 3 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "model:1" in proc.stderr and not (tmp_path / "out").exists()


def flip_byte_in(av, codec: int, path: str | None = None) -> None:
    """Damage, on disk, the last chunk of `av`'s file `path` stored with `codec` (earlier chunks are written
    before it)."""
    from artrepo.client import active_repository

    store = active_repository().chunks
    cid = [c for c, k, _n in chunks_of(av, path) if k == codec][-1]
    pid, entry = store.locate(cid)
    pack = store.pack_path(pid)
    pack.chmod(0o644)
    raw = bytearray(pack.read_bytes())
    raw[entry.offset + entry.length // 2] ^= 0x40
    pack.write_bytes(bytes(raw))
    forget_open_repositories()


@pytest.mark.parametrize("codec", [CODEC_RAW, CODEC_ZSTD], ids=["raw-chunk", "compressed-chunk"])
def test_a_damaged_chunk_fails_every_export_with_nothing_left_behind(project, tmp_path, codec):
    src = tmp_path / "model.bin"
    src.write_bytes(mixed_bytes(1))
    victim = register_artifact(src, "model")
    src.write_bytes(b"an unrelated file\n" * 1000)
    register_artifact(src, "bystander")
    flip_byte_in(victim, codec)
    out = tmp_path / "exports"
    out.mkdir()

    proc = run_cli("export", "model:1", str(out / "model"))
    assert proc.returncode == 3, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "model:1" in proc.stderr, proc.stderr
    proc = run_cli("export", "model:1", str(out / "model.zip"))
    assert proc.returncode == 3 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    with pytest.raises(IntegrityError, match="model:1"):
        Client().get_artifact_version("model:1").download_files(out / "api.zip")
    assert list(out.iterdir()) == []  # no folder, no zip, no partial file beside them

    paths = project / ".artrepo" / "cache" / "paths"
    before = sorted(paths.rglob("*")) if paths.exists() else []
    with pytest.raises(IntegrityError, match="model:1"):
        load_artifact("model:1")
    assert (sorted(paths.rglob("*")) if paths.exists() else []) == before  # no half-made read-only copy
    assert run_cli("export", "bystander", str(out / "ok")).returncode == 0
    assert exported(out / "ok") == b"an unrelated file\n" * 1000


@pytest.fixture
def several(project, tmp_path, monkeypatch):
    """model:1, a folder: random bytes of several chunks (stored raw), raw and compressed chunks, text, an empty
    file, a nested one; exported by two threads in many batches (as a file of 8 MiB and more would be)."""
    monkeypatch.setattr(export, "PARALLEL_FROM", 1 << 20)
    rnd = random.Random(5)
    files = {"noise.bin": rnd.randbytes(3_000_000), "mixed.bin": mixed_bytes(2), "empty": b"",
             "rows.txt": b"".join(b"row %08d\n" % i for i in range(30_000)), "sub/deeper/small.bin": rnd.randbytes(999)}
    folder = tmp_path / "model"
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    av = register_artifact(folder, "model")
    return av, {f.path: files[f.path.split("/", 1)[1]] for f in av.manifest().files}


def codecs_of(av, path: str) -> set[int]:
    return {codec for _cid, codec, _n in chunks_of(av, path)}


def test_a_zip_of_several_files_reads_back_byte_for_byte(several, tmp_path):
    av, files = several
    assert codecs_of(av, "dir/noise.bin") == {CODEC_RAW} and len(next(f for f in av.manifest().files if f.path == "dir/noise.bin").chunks) > 1
    assert codecs_of(av, "dir/mixed.bin") == {CODEC_RAW, CODEC_ZSTD}
    Client().get_artifact_version("model:1").download_files(tmp_path / "model.zip")
    with zipfile.ZipFile(tmp_path / "model.zip") as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted(files)  # the stored paths, as before
        assert {name: zf.read(name) for name in zf.namelist()} == files
        kinds = {i.filename: i.compress_type for i in zf.infolist()}
    assert kinds["dir/noise.bin"] == kinds["dir/empty"] == kinds["dir/sub/deeper/small.bin"] == zipfile.ZIP_STORED
    assert kinds["dir/mixed.bin"] == kinds["dir/rows.txt"] == zipfile.ZIP_DEFLATED
    if shutil.which("unzip"):
        proc = subprocess.run(["unzip", "-t", str(tmp_path / "model.zip")], capture_output=True, text=True)
        assert proc.returncode == 0 and "No errors detected" in proc.stdout, proc.stdout


def test_a_zip_past_the_zip64_limits_reads_back(several, tmp_path, monkeypatch):
    """zipfile's 4 GiB limit lowered to 64 KiB: sizes, offsets and the central directory's place go in zip64
    records, as a zip of files of 4 GiB and more has them."""
    av, files = several
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1 << 16)
    Client().get_artifact_version("model:1").download_files(tmp_path / "model.zip")
    monkeypatch.undo()
    raw = (tmp_path / "model.zip").read_bytes()
    assert raw.count(b"PK\x06\x06") == 1  # the zip64 end of central directory record
    with zipfile.ZipFile(tmp_path / "model.zip") as zf:
        assert zf.testzip() is None and {name: zf.read(name) for name in zf.namelist()} == files
    if shutil.which("unzip"):
        assert subprocess.run(["unzip", "-tq", str(tmp_path / "model.zip")], capture_output=True).returncode == 0


def test_a_damaged_chunk_of_a_stored_entry_fails_the_zip_with_nothing_left_behind(several, tmp_path):
    av, _files = several
    flip_byte_in(av, CODEC_RAW, "dir/noise.bin")  # its chunks are all raw
    out = tmp_path / "exports"
    out.mkdir()
    with pytest.raises(IntegrityError, match="model:1"):
        Client().get_artifact_version("model:1").download_files(out / "api.zip")
    proc = run_cli("export", "model:1", str(out / "model.zip"))
    assert proc.returncode == 3 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "model:1" in proc.stderr and "hash mismatch" in proc.stderr, proc.stderr
    assert list(out.iterdir()) == []  # no zip, no partial file beside it
